using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// What an accepted connection takes from its listener without a syscall of its own: TCP_NODELAY (Linux copies the
/// listener's into the new socket) and, for a listener bound to one address, its local end point.
/// </summary>
public class ListenerInheritanceTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_listener_bound_with_noDelay_hands_it_to_every_accepted_connection(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var withNoDelay = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0), 16, reusePort: false, noDelay: true);
        await using var plain = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        Assert.True(withNoDelay.NoDelay);
        Assert.False(plain.NoDelay);

        for (int i = 0; i < 3; i++)
        {
            var (client, server) = await loops.ConnectAsync(withNoDelay);
            await using (client)
            await using (server)
            {
                Assert.True(server.NoDelay, $"connection {i} did not inherit TCP_NODELAY");
            }
        }

        var (c, s) = await loops.ConnectAsync(plain);
        await using (c)
        await using (s)
        {
            Assert.False(s.NoDelay, "a listener without TCP_NODELAY handed it out");
        }
    }

    [IoUringFact]
    public async Task Setting_NoDelay_on_a_listener_reaches_the_connections_accepted_afterwards()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.NoDelay = true;
        Assert.True(listener.NoDelay);
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            Assert.True(server.NoDelay);
        }

        listener.NoDelay = false;
        var (c2, s2) = await loops.ConnectAsync(listener);
        await using (c2)
        await using (s2)
        {
            Assert.False(s2.NoDelay);
        }
    }

    [IoUringFact]
    public async Task NoDelay_on_Unix_sockets_is_a_SocketException_ignored_at_bind_and_ObjectDisposedException_after_dispose()
    {
        using var dir = new TempDir();
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        var listener = AioListener.Bind(loops.Server.Context, NetLoops.Loopback(unix: true, dir), 16, reusePort: false, noDelay: true);
        Assert.ThrowsAny<SocketException>(() => listener.NoDelay = true);
        Assert.ThrowsAny<SocketException>(() => listener.NoDelay);
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            // Like Socket.NoDelay on a Unix-domain socket: a SocketException, not an AioException.
            Assert.ThrowsAny<SocketException>(() => server.NoDelay);
            Assert.ThrowsAny<SocketException>(() => server.NoDelay = true);
        }

        await listener.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => listener.NoDelay = true);
        Assert.Throws<ObjectDisposedException>(() => listener.NoDelay);
    }

    public static TheoryData<string, string> Addresses => new()
    {
        { "127.0.0.1", "127.0.0.1" },
        { "::1", "::1" },
        { "0.0.0.0", "127.0.0.1" },
        { "::", "127.0.0.1" },
        { "::", "::1" },
        { "::ffff:0.0.0.0", "127.0.0.1" },
        { "::ffff:127.0.0.1", "127.0.0.1" },
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public async Task An_accepted_connection_reports_the_same_local_end_point_as_the_kernel(string bound, string connectTo)
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Parse(bound), 0));
        int port = ((IPEndPoint)listener.LocalEndPoint).Port;
        var seen = new List<EndPoint>();
        for (int i = 0; i < 2; i++)
        {
            var accept = listener.AcceptAsync().AsTask();
            await using var client = await AioSocket.ConnectAsync(loops.Client.Context, new IPEndPoint(IPAddress.Parse(connectTo), port)).Within("the client's connect");
            await using var server = await accept.WaitAsync(Wait.Default);
            var reported = server.LocalEndPoint;
            Assert.NotNull(reported);

            // The Socket view asks getsockname(2) itself.
            Assert.Equal(server.Socket.LocalEndPoint, reported);
            Assert.Equal(port, ((IPEndPoint)reported!).Port);
            seen.Add(reported!);
        }

        // Each connection owns its instance: IPEndPoint is mutable.
        Assert.False(ReferenceEquals(seen[0], seen[1]));
    }
}
