using System.Buffers;
using Aio.AspNetCore;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// The loop's pool of 64 KiB blocks: last in, first out, at most its capacity kept, a double return refused, nothing
/// kept after Dispose, and nothing allocated in the steady state.
/// </summary>
public sealed class LargeBlockPoolTests : IDisposable
{
    private readonly LargeBlockPool _pool = new();

    public void Dispose() => _pool.Dispose();

    [Fact]
    public void A_block_is_the_block_size_and_the_one_returned_last_is_rented_first()
    {
        var a = _pool.Rent();
        var b = _pool.Rent();
        Assert.Equal(LargeBlockPool.BlockSize, a.Memory.Length);
        Assert.Equal(LargeBlockPool.BlockSize, _pool.MaxBufferSize);
        a.Dispose();
        b.Dispose();

        var c = _pool.Rent();
        Assert.Same(b, c);
        Assert.Equal(2, _pool.Made);
        Assert.Equal(1, _pool.Retained);
        c.Dispose();
    }

    [Fact]
    public void Blocks_returned_to_a_full_pool_are_not_kept()
    {
        var held = new IMemoryOwner<byte>[LargeBlockPool.Capacity + 8];
        for (int i = 0; i < held.Length; i++)
        {
            held[i] = _pool.Rent();
        }

        foreach (var block in held)
        {
            block.Dispose();
        }

        Assert.Equal(LargeBlockPool.Capacity, _pool.Retained);
        Assert.Equal(held.Length, _pool.Made);
    }

    [Fact]
    public void A_block_returned_twice_throws_and_is_kept_once()
    {
        var block = _pool.Rent();
        block.Dispose();
        Assert.Throws<InvalidOperationException>(block.Dispose);
        Assert.Equal(1, _pool.Retained);

        // Kept once: the next two rents are two blocks.
        var first = _pool.Rent();
        var second = _pool.Rent();
        Assert.NotSame(first, second);
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public void After_Dispose_nothing_is_kept_and_late_returns_are_dropped()
    {
        var lent = _pool.Rent();
        _pool.Rent().Dispose();
        Assert.Equal(1, _pool.Retained);

        _pool.Dispose();
        Assert.Equal(0, _pool.Retained);
        lent.Dispose();
        Assert.Equal(0, _pool.Retained);
    }

    [Fact]
    public void A_rent_above_the_block_size_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _pool.Rent(LargeBlockPool.BlockSize + 1));
        Assert.Equal(0, _pool.Made);
    }

    [Fact]
    public void Renting_and_returning_allocates_nothing_once_warm()
    {
        var held = new IMemoryOwner<byte>[16];
        Cycle(held);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 100; round++)
        {
            Cycle(held);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated by 1,600 rents and returns of warm blocks");
        Assert.Equal(held.Length, _pool.Made);
    }

    private void Cycle(IMemoryOwner<byte>[] held)
    {
        for (int i = 0; i < held.Length; i++)
        {
            held[i] = _pool.Rent();
        }

        for (int i = 0; i < held.Length; i++)
        {
            held[i].Dispose();
        }
    }
}
