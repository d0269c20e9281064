using System.Buffers;
using Aio.AspNetCore;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// A connection's output pool: the small pool for the first blocks of a burst, 64 KiB blocks after, a new burst once the
/// send pump caught up; used only in front of a pool of small blocks.
/// </summary>
public sealed class OutputBlockPoolTests : IDisposable
{
    private readonly CountingMemoryPoolFactory _small = new();
    private readonly MemoryPool<byte> _smallPool;
    private readonly LargeBlockPool _large = new();
    private readonly OutputBlockPool _pool;

    public OutputBlockPoolTests()
    {
        _smallPool = _small.Create();
        _pool = new OutputBlockPool(_smallPool, _large);
    }

    public void Dispose()
    {
        _pool.Dispose();
        _large.Dispose();
        _smallPool.Dispose();
    }

    [Fact]
    public void A_burst_takes_small_blocks_first_then_large_ones_until_drained()
    {
        Assert.Equal(LargeBlockPool.BlockSize, _pool.MaxBufferSize);
        var burst = new List<IMemoryOwner<byte>>();
        for (int i = 0; i < OutputBlockPool.SmallRentsPerBurst + 3; i++)
        {
            burst.Add(_pool.Rent(4096));
        }

        Assert.All(burst.Take(OutputBlockPool.SmallRentsPerBurst), b => Assert.Equal(4096, b.Memory.Length));
        Assert.All(burst.Skip(OutputBlockPool.SmallRentsPerBurst), b => Assert.Equal(LargeBlockPool.BlockSize, b.Memory.Length));
        Assert.Equal(OutputBlockPool.SmallRentsPerBurst, _small.Outstanding);
        Assert.Equal(3, _large.Made);

        // The send pump caught up: the next write is a new burst, small again.
        _pool.Drained();
        var next = _pool.Rent(4096);
        Assert.Equal(4096, next.Memory.Length);
        next.Dispose();
        foreach (var block in burst)
        {
            block.Dispose();
        }

        Assert.Equal(0, _small.Outstanding);
        Assert.Equal(3, _large.Retained);
    }

    [Fact]
    public void A_hint_above_the_small_blocks_takes_a_large_one_at_once()
    {
        using var block = _pool.Rent(8192);
        Assert.Equal(LargeBlockPool.BlockSize, block.Memory.Length);
        Assert.Equal(0, _small.Outstanding);
    }

    [Fact]
    public void Only_a_pool_of_small_blocks_is_helped()
    {
        Assert.True(OutputBlockPool.Helps(_smallPool));
        Assert.False(OutputBlockPool.Helps(MemoryPool<byte>.Shared));
        Assert.False(OutputBlockPool.Helps(_large));
    }
}
