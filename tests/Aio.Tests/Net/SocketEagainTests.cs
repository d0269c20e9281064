using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// The kernel hands a ring SEND or RECV back with EAGAIN when its retry after a poll finds no room (or data) again.
/// Here every socket request carries MSG_DONTWAIT, so the real kernel answers EAGAIN whenever the socket is full or
/// empty: the operation must wait for room or data as usual, not fail with WouldBlock.
/// </summary>
public sealed class SocketEagainTests
{
    /// <summary>A .NET socket connected to an AioSocket accepted on <paramref name="ctx"/>.</summary>
    private static async Task<(Socket Peer, AioSocket Server)> ConnectAsync(AioContext ctx)
    {
        await using var listener = AioListener.Bind(ctx, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(listener.LocalEndPoint).WaitAsync(Wait.Default);
        return (peer, await accept.WaitAsync(Wait.Default));
    }

    private static IoThread StartLoop(string name)
        => IoThread.Start(name, new AioContextOptions { Monitor = FdMonitorKind.IoUring, SocketIoDontWait = true });

    [IoUringFact]
    public async Task A_send_answered_with_EAGAIN_goes_on_until_the_peer_makes_room()
    {
        using var io = StartLoop("eagain-send");
        Assert.True(io.Context.SocketsUseRing);
        var (peer, server) = await ConnectAsync(io.Context);
        using var _ = peer;
        await using var __ = server;

        // Far more than the socket buffers hold: the send meets a full socket while nobody reads.
        var payload = new byte[16 << 20];
        new Random(3).NextBytes(payload);
        var send = server.SendAsync(payload).AsTask();
        var received = new byte[payload.Length];
        int got = 0;
        while (got < received.Length)
        {
            int n = await peer.ReceiveAsync(received.AsMemory(got)).AsTask().WaitAsync(Wait.Default);
            Assert.True(n > 0, $"the server closed after {got} bytes");
            got += n;
        }

        Assert.Equal(payload.Length, await send.WaitAsync(Wait.Default));
        Assert.Equal(payload, received);
    }

    [IoUringFact]
    public async Task A_receive_answered_with_EAGAIN_waits_for_data()
    {
        using var io = StartLoop("eagain-receive");
        await io.Context.InvokeAsync(() =>
        {
            // Single RECVs (a multishot one is not the request under test).
            io.Context.NetLoop.MultishotReceive = false;
            return Task.CompletedTask;
        }).WaitAsync(Wait.Default);
        var (peer, server) = await ConnectAsync(io.Context);
        using var _ = peer;
        await using var __ = server;

        var buffer = new byte[64];
        // Without data, every RECV the loop submits comes back with EAGAIN (tens of thousands while the peer is
        // silent): the receive must stay pending through them.
        long before = io.Context.Statistics.CqesReaped;
        var receive = server.ReceiveAsync(buffer).AsTask();
        Wait.Until(() => io.Context.Statistics.CqesReaped - before > 100 || receive.IsCompleted, () => Thread.Yield(), "the loop to resubmit the receive");
        Assert.False(receive.IsCompleted, $"a receive on an empty socket completed: {receive.Status} {receive.Exception?.InnerException?.Message}");
        await peer.SendAsync("hello"u8.ToArray()).WaitAsync(Wait.Default);
        Assert.Equal(5, await receive.WaitAsync(Wait.Default));
        Assert.Equal("hello"u8.ToArray(), buffer[..5]);
    }
}
