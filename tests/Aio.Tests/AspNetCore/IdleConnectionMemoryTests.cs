using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// An idle keep-alive connection holds no block of Kestrel's memory pool: the receive pump waits for data with a
/// zero-byte receive before it takes a buffer (Kestrel's Sockets transport does the same by default).
/// </summary>
public sealed class IdleConnectionMemoryTests
{
    private const int Connections = 20;

    [IoUringTheory]
    [InlineData(AioSchedulingMode.ThreadPool, true, 0)]
    [InlineData(AioSchedulingMode.Loop, true, 0)]
    [InlineData(AioSchedulingMode.Loop, false, Connections)]
    public async Task Idle_connections_that_have_been_read_hold_no_pool_block_when_waiting_for_data(AioSchedulingMode mode, bool waitForData, int expectedBlocks)
    {
        var pool = new CountingMemoryPoolFactory();
        var options = new AioTransportOptions { LoopCount = 1, Scheduling = mode, WaitForDataBeforeAllocatingBuffer = waitForData };
        await using var factory = new AioTransportFactory(Options.Create(options), NullLoggerFactory.Instance, pool);
        Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");

        // Blocks the loops keep for their next rent (LoopBlockCache, Loop mode) belong to no connection.
        int HeldByConnections() => pool.Outstanding - loops.Schedulers.Sum(s => s.BlockCache?.Count ?? 0);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var clients = new List<Socket>();
        var servers = new List<ConnectionContext>();
        try
        {
            for (int i = 0; i < Connections; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(listener.EndPoint).WaitAsync(Wait.Default);
                var server = (await listener.AcceptAsync().AsTask().WaitAsync(Wait.Default))!;
                servers.Add(server);
                await client.SendAsync("request"u8.ToArray()).Within("the client's send of the request");

                // Kestrel reads the request and consumes it all: the connection is idle from here.
                var read = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(Wait.Default);
                Assert.Equal(7, read.Buffer.Length);
                server.Transport.Input.AdvanceTo(read.Buffer.End);
            }

            // Every pump goes back to its receive; the count settles there. Without the wait for data each idle pump
            // holds the block it will receive into (the control: the count does see them; a pump or two may not have
            // taken its next block yet, so half is asked for).
            if (expectedBlocks == 0)
            {
                Wait.Until(() => HeldByConnections() == 0, () => Thread.Sleep(5), "no pool block held by idle connections");
            }
            else
            {
                Wait.Until(() => HeldByConnections() >= expectedBlocks / 2, () => Thread.Sleep(5), $"at least {expectedBlocks / 2} blocks held without the wait for data");
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            foreach (var server in servers)
            {
                await server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
            }
        }

        Assert.Equal(0, HeldByConnections());

        // And the transport gives the loops' blocks back when it stops (disposed here, and again at the end: harmless).
        await listener.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        await factory.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Assert.Equal(0, pool.Outstanding);
    }
}
