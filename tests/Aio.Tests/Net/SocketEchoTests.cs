using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

public class SocketEchoTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.AllTimesTwo), MemberType = typeof(MonitorKinds))]
    public async Task Echo_round_trips_every_message_in_order(FdMonitorKind kind, bool unix)
    {
        using var dir = new TempDir();
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, NetLoops.Loopback(unix, dir));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var echo = EchoAsync(server);
            var message = new byte[1000];
            var reply = new byte[1000];
            for (int i = 0; i < 200; i++)
            {
                message.AsSpan().Fill((byte)i);
                BitConverter.TryWriteBytes(message, i);
                Assert.Equal(message.Length, await client.SendAsync(message).Within("the client's send"));
                await NetLoops.ReceiveExactlyAsync(client, reply);
                Assert.True(message.AsSpan().SequenceEqual(reply), $"message {i} came back changed");
            }

            client.Shutdown(SocketShutdown.Send);
            Assert.Equal(200 * 1000L, await echo.WaitAsync(Wait.Default));
            Assert.Equal(0, await client.ReceiveAsync(reply).Within("the client's receive of the end of stream"));
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Port_zero_reports_the_real_port_and_ipv6_works(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var v4 = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)v4.LocalEndPoint).Port;
        Assert.NotEqual(0, port);
        await using var v6 = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var (client, server) = await loops.ConnectAsync(v6);
        await using (client)
        await using (server)
        {
            Assert.Equal(AddressFamily.InterNetworkV6, ((IPEndPoint)client.RemoteEndPoint!).AddressFamily);
            Assert.Equal(((IPEndPoint)v6.LocalEndPoint).Port, ((IPEndPoint)client.RemoteEndPoint!).Port);
            Assert.Equal(((IPEndPoint)server.RemoteEndPoint!).Port, ((IPEndPoint)client.LocalEndPoint!).Port);
            await client.SendAsync("hi"u8.ToArray()).Within("the client's send");
            var buffer = new byte[2];
            await NetLoops.ReceiveExactlyAsync(server, buffer);
            Assert.Equal("hi"u8.ToArray(), buffer);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_busy_port_is_AddressAlreadyInUse_and_refused_connect_is_ConnectionRefused(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var first = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var busy = Assert.Throws<SocketException>(() => AioListener.Bind(loops.Server.Context, first.LocalEndPoint));
        Assert.Equal(SocketError.AddressAlreadyInUse, busy.SocketErrorCode);

        // What .NET's own Socket says for the same errors is the oracle.
        using var dotnet = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var dotnetBusy = Assert.Throws<SocketException>(() => dotnet.Bind(first.LocalEndPoint));
        Assert.Equal(dotnetBusy.SocketErrorCode, busy.SocketErrorCode);

        var closedPort = FreePort();
        var refused = await Assert.ThrowsAsync<SocketException>(async () => await AioSocket.ConnectAsync(loops.Client.Context, closedPort).Within("the refused connect"));
        using var dotnetClient = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var dotnetRefused = await Assert.ThrowsAsync<SocketException>(async () => await dotnetClient.ConnectAsync(closedPort).Within("the refused .NET connect"));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Equal(dotnetRefused.SocketErrorCode, refused.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task After_the_peer_shuts_down_every_receive_returns_zero_and_half_close_still_receives(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            client.Shutdown(SocketShutdown.Send);
            var buffer = new byte[16];
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(0, await server.ReceiveAsync(buffer).Within("the server's receive after the FIN"));
            }

            // Half-close: the client no longer sends, but still receives what the server sends.
            await server.SendAsync("after FIN"u8.ToArray()).Within("the server's send after the FIN");
            var reply = new byte[9];
            await NetLoops.ReceiveExactlyAsync(client, reply);
            Assert.Equal("after FIN"u8.ToArray(), reply);
            var afterShutdown = await Assert.ThrowsAsync<SocketException>(async () => await client.SendAsync(new byte[1]).Within("the send after the shutdown"));
            Assert.Equal(SocketError.Shutdown, afterShutdown.SocketErrorCode);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_peer_reset_fails_the_pending_receive_and_later_sends_with_ConnectionReset(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (server)
        {
            var pending = server.ReceiveAsync(new byte[64]).AsTask();
            client.Abort();
            var reset = await Assert.ThrowsAsync<SocketException>(() => pending.WaitAsync(Wait.Default));
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);

            // Reported once, as the kernel (and .NET's Socket) report it: after it, the stream has ended.
            Assert.Equal(0, await server.ReceiveAsync(new byte[64]).AsTask().WaitAsync(Wait.Default));
            Assert.Equal(0, await server.ReceiveAsync(new byte[64]).AsTask().WaitAsync(Wait.Default));

            // Mid-send: the peer is gone, so a large send fails instead of hanging.
            var error = await Assert.ThrowsAsync<SocketException>(async () =>
            {
                var big = new byte[1 << 20];
                for (int i = 0; i < 64; i++)
                {
                    await server.SendAsync(big).AsTask().WaitAsync(Wait.Default);
                }
            });
            Assert.Contains(error.SocketErrorCode, new[] { SocketError.ConnectionReset, SocketError.Shutdown });
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Listeners_on_two_loops_share_a_port_with_reusePort_and_a_plain_bind_is_refused(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var first = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0), 512, reusePort: true);
        await using var second = AioListener.Bind(loops.Client.Context, first.LocalEndPoint, 512, reusePort: true);
        Assert.Equal(first.LocalEndPoint, second.LocalEndPoint);
        var plain = Assert.Throws<SocketException>(() => AioListener.Bind(loops.Server.Context, first.LocalEndPoint));
        Assert.Equal(SocketError.AddressAlreadyInUse, plain.SocketErrorCode);

        // The kernel spreads connections by a hash of the peer's port: of 64 connections, each listener gets some (all on
        // one listener would take a 2^-63 chance).
        var accepts = new[] { first.AcceptAsync().AsTask(), second.AcceptAsync().AsTask() };
        var clients = new List<AioSocket>();
        for (int i = 0; i < 64; i++)
        {
            clients.Add(await AioSocket.ConnectAsync(loops.Client.Context, first.LocalEndPoint).Within("a client's connect"));
        }

        var accepted = await Task.WhenAll(accepts).WaitAsync(Wait.Default);
        Assert.Same(loops.Server.Context, accepted[0].Context);
        Assert.Same(loops.Client.Context, accepted[1].Context);
        foreach (var socket in clients.Concat(accepted))
        {
            await socket.DisposeAsync();
        }
    }

    private static IPEndPoint FreePort()
    {
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    private static async Task<long> EchoAsync(AioSocket socket)
    {
        var buffer = new byte[4096];
        long total = 0;
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer);
            if (n == 0)
            {
                socket.Shutdown(SocketShutdown.Send);
                return total;
            }

            total += n;
            await socket.SendAsync(buffer.AsMemory(0, n));
        }
    }
}
