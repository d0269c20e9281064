using System.Net;
using System.Net.Sockets;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
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
        var pool = new CountingMemoryPoolFactory();
        var options = new AioTransportOptions { LoopCount = 1, Scheduling = mode };
        await using var factory = new AioTransportFactory(Options.Create(options), NullLoggerFactory.Instance, pool);
        Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Wait.Default);
        var server = (AioConnection)(await listener.AcceptAsync().AsTask().WaitAsync(Wait.Default))!;

        // A response written on the loop, as Kestrel writes in Loop mode: the send pump returns its blocks there. Two of
        // them: a longer burst would go on in large blocks (OutputBlockPool), which are not the pool's.
        const int size = OutputBlockPool.SmallRentsPerBurst * 4096;
        await server.Loop.InvokeAsync(async () => await server.Transport.Output.WriteAsync(new byte[size])).WaitAsync(Wait.Default);
        var buffer = new byte[size];
        int received = 0;
        while (received < size)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None).AsTask().WaitAsync(Wait.Default);
            Assert.NotEqual(0, n);
            received += n;
        }

        await server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        int inCache = loops.Schedulers.Sum(s => s.BlockCache?.Count ?? 0);
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
        await listener.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        await factory.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Assert.Equal(0, pool.Outstanding);
    }
}
