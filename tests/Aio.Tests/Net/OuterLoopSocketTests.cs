using System.Net;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// An outer loop taking over a context swaps its DEFER_TASKRUN ring for a COOP_TASKRUN one (when nothing is in flight):
/// the loop's buffer ring, registered with the old ring, must follow, or every multishot receive on the new ring would
/// find no buffers (ENOBUFS) and fall back to single receives.
/// </summary>
public class OuterLoopSocketTests
{
    [IoUringFact]
    public async Task After_the_outer_loop_swaps_the_ring_sockets_receive_from_a_buffer_ring_registered_with_the_new_one()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var (firstRing, oldRing) = await ReceiveOnceAsync(ctx, () => ctx.Poll(false));
        Assert.Same(oldRing, ctx.RingForNet);

        // Nothing is in flight any more (the socket and its listener are closed): the outer loop's first prepare swaps.
        using var loop = new OuterDriver(ctx, glib: false);
        loop.IterateUntilIdle();
        Assert.NotSame(oldRing, ctx.RingForNet);

        var (secondRing, newRing) = await ReceiveOnceAsync(ctx, () => loop.Iterate(false));
        Assert.Same(newRing, ctx.RingForNet);
        Assert.NotSame(firstRing, secondRing);
        Assert.Same(newRing, secondRing.Ring);
        Assert.True(firstRing.Freed, "the old buffer ring was not freed once no socket held its buffers");
    }

    /// <summary>Accepts a connection on <paramref name="ctx"/>, receives one message through its multishot RECV, closes everything.</summary>
    private static async Task<(Aio.Uring.BufferRing Buffers, Aio.Uring.Ring? Ring)> ReceiveOnceAsync(AioContext ctx, Action drive)
    {
        var listener = AioListener.Bind(ctx, new IPEndPoint(IPAddress.Loopback, 0));
        using var peer = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        var accept = listener.AcceptAsync().AsTask();
        peer.Connect(listener.LocalEndPoint);
        Wait.Until(() => accept.IsCompleted, drive, "the connection to be accepted");
        var socket = await accept;

        var buffer = new byte[16];
        var receive = socket.ReceiveAsync(buffer).AsTask();
        peer.Send("hello"u8);
        Wait.Until(() => receive.IsCompleted, drive, "the message to arrive");
        Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(buffer, 0, await receive));
        var buffers = socket.ReceiveBufferRing;
        Assert.NotNull(buffers);
        Assert.Equal(0, buffers!.Outstanding);

        var ring = ctx.RingForNet;
        var closed = socket.DisposeAsync().AsTask();
        var listenerClosed = listener.DisposeAsync().AsTask();
        Wait.Until(() => closed.IsCompleted && listenerClosed.IsCompleted, drive, "the socket and the listener to close");
        return (buffers, ring);
    }
}
