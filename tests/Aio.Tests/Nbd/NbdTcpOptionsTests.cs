using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>TCP connections to the server have Nagle off: replies are small and latency-bound (the protocol recommends TCP_NODELAY).</summary>
public sealed class NbdTcpOptionsTests
{
    [Fact]
    public void An_accepted_tcp_connection_has_nodelay()
    {
        using var server = new NbdTestServer(size: 1 << 20, configure: o => o with { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        int port = ((IPEndPoint)server.Server.EndPoints[0]).Port;
        using var client = NbdTestServer.ConnectOverTcp(port);

        // The server's side of this connection (the greeting came from it: accepted). Off by default, as the client's
        // side shows, so on is the server's doing (the listener's option, which accepted connections inherit).
        int fd = Assert.Single(ListeningSockets.ConnectedTo((IPEndPoint)client.LocalEndPoint!));
        Assert.True(TcpNoDelay.Get(fd), "TCP_NODELAY is off on the server's side of the connection");
        Assert.False(client.NoDelay);
    }
}
