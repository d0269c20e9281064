using Aio.AspNetCore;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>The transport's use of <see cref="LoopBlockCache"/>: Loop mode only, and every block back in the pool when it stops.</summary>
public sealed class TransportBlockCacheTests
{
    [IoUringTheory]
    [InlineData(AioSchedulingMode.Loop, true)]
    [InlineData(AioSchedulingMode.ThreadPool, false)]
    public async Task Blocks_a_response_used_on_the_loop_wait_in_its_cache_until_the_transport_stops(AioSchedulingMode mode, bool cached)
    {
        await using var setup = await OneConnectionTransport.Start(mode);
        var pool = setup.Pool;

        // A response written as Kestrel writes it in the mode: in Loop mode the send pump returns its blocks on the loop.
        // Two blocks: a longer burst would go on in large blocks (OutputBlockPool), which are not the pool's.
        const int size = OutputBlockPool.SmallRentsPerBurst * 4096;
        await setup.Write(new byte[size]);
        await setup.Receive(size);

        await setup.Server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        int inCache = setup.Scheduler.BlockCache?.Count ?? 0;
        if (cached)
        {
            Assert.True(inCache >= size / 4096, $"{inCache} blocks in the loop's cache after an 8 KiB response sent from the loop");
        }
        else
        {
            Assert.Equal(0, inCache);
        }

        // Nothing else holds a block: what the pool lent is what the cache keeps, and the transport's stop gives it back.
        Wait.Until(() => pool.Outstanding == inCache, () => Thread.Sleep(5), $"the pool's lent blocks to be the {inCache} cached (now {pool.Outstanding})");
        await setup.DisposeAsync();
        Assert.Equal(0, pool.Outstanding);
    }
}
