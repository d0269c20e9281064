using System.Buffers;
using Aio.AspNetCore;
using Aio.Tests.Support;
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

        _pool.Trim();
        _pool.Dispose();
        Assert.Equal(0, _pool.Retained);
        lent.Dispose();
        Assert.Equal(0, _pool.Retained);

        // A trim after Dispose (the loop's timer may fire while the transport stops) finds nothing to drop.
        Assert.Equal(0, _pool.Trim());
    }

    [Fact]
    public void Trim_gives_the_GC_the_oldest_blocks_no_rent_needed_since_the_last_trim()
    {
        var held = new IMemoryOwner<byte>[4];
        for (int i = 0; i < held.Length; i++)
        {
            held[i] = _pool.Rent();
        }

        foreach (var block in held)
        {
            block.Dispose();
        }

        // The first look only marks: each of the 4 may be needed before the next.
        Assert.Equal(0, _pool.Trim());
        Assert.Equal(4, _pool.Retained);

        // One rent reached down to 3 kept: those 3 sat unused for the whole period, the one rented and returned stays.
        var again = _pool.Rent();
        again.Dispose();
        Assert.Equal(3, _pool.Trim());
        Assert.Equal(1, _pool.Retained);
        Assert.Same(again, _pool.Rent());
    }

    [Fact]
    public void The_loops_timer_trims_a_pool_nobody_rents_from_down_to_nothing()
    {
        using var io = IoThread.Start("large-block-trim");
        using var pool = new LargeBlockPool(io.Context, TimeSpan.FromMilliseconds(20));
        var a = pool.Rent();
        var b = pool.Rent();
        a.Dispose();
        b.Dispose();

        // Two periods: the first marks both as unneeded, the second drops them; then the timer stops. (That the returns
        // are retained at all is the timer-less tests' business: asserted here, two periods of a busy machine could
        // pass between the returns and the check.)
        Wait.Until(() => pool.Retained == 0, () => Thread.Sleep(5), "the trim timer to drop the 2 idle blocks");
        Assert.Equal(2, pool.Made);
        pool.Rent().Dispose();
        Assert.Equal(3, pool.Made);
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
