using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.Tests.Support;

/// <summary>A socket on a context the test's own thread drives, for tests that step the loop one Poll at a time.</summary>
public static class HomeLoopSockets
{
    /// <summary>
    /// An io_uring context whose home is the calling thread (bound by a first Poll), and a loopback TCP connection:
    /// one end adopted onto the context, the other a plain <see cref="Socket"/>. The caller disposes all three.
    /// </summary>
    public static (AioContext Context, AioSocket Socket, Socket Peer) Connect()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        ctx.Poll(false);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        peer.Connect(listener.LocalEndPoint!);
        return (ctx, AioSocket.Adopt(ctx, listener.Accept()), peer);
    }
}
