using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// A socket's pending operations end when its context is disposed under it, on every monitor: the ring path through
/// the cancellation of its requests, the fd-handler path (poll, epoll) because the loop tells the sockets waiting for
/// readiness that no readiness will come.
/// </summary>
public class ContextDisposedTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pending_receive_ends_when_its_context_is_disposed(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Client.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await AioSocket.ConnectAsync(loops.Server.Context, listener.LocalEndPoint).Within("the client's connect");
        await using var peer = await accept.WaitAsync(Wait.Default);

        // The client socket lives on the "server" loop, which is disposed under it.
        var pending = client.ReceiveAsync(new byte[16]).AsTask();
        await loops.Server.DisposeAsync().Within("the server loop's shutdown");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.True(error is ObjectDisposedException or OperationCanceledException, $"{kind}: ended with {error.GetType().Name}: {error.Message}");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pending_connect_ends_when_its_context_is_disposed(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        // A listener whose accept queue is full (backlog 0 holds one connection nobody accepts): the kernel drops
        // further SYNs, so the next connect stays in SYN_SENT, retrying, for a minute or more.
        using var full = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        full.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        full.Listen(0);
        using var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await filler.ConnectAsync(full.LocalEndPoint!).WaitAsync(Wait.Default);

        var pending = AioSocket.ConnectAsync(loops.Server.Context, full.LocalEndPoint!).AsTask();
        Assert.False(pending.IsCompleted, $"{kind}: the connect to a full accept queue completed: {pending.Status}");
        await loops.Server.DisposeAsync().Within("the server loop's shutdown");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.True(error is ObjectDisposedException or OperationCanceledException, $"{kind}: ended with {error.GetType().Name}: {error.Message}");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pending_accept_ends_when_its_context_is_disposed(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var pending = listener.AcceptAsync().AsTask();
        await loops.Server.DisposeAsync().Within("the server loop's shutdown");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.True(error is ObjectDisposedException or OperationCanceledException, $"{kind}: ended with {error.GetType().Name}: {error.Message}");
    }

    [IoUringFact]
    public void An_abandoned_start_does_not_end_a_send_whose_buffer_the_kernel_still_holds()
    {
        var (ctx, socket, peerSocket) = HomeLoopSockets.Connect();
        using var peer = peerSocket;

        // More than both socket buffers hold, and the peer reads nothing: the SEND stays in the kernel, on the buffer.
        var send = socket.SendAsync(new byte[64 << 20]);
        LoopDriver.PollUntil(ctx, () => !socket.SendSide.KernelIdle, "the SEND in the kernel");

        // What the teardown does when a start of the send side is still queued (an earlier use's): the use whose
        // request the kernel holds must not end yet, or its caller could reuse the buffer under the kernel.
        socket.SendSide.FailAbandoned();

        // Asked of the operation itself: a Task made from it completes on the pool, later.
        Assert.False(send.IsCompleted, "the send ended while the kernel still held its buffer");
        var pending = send.AsTask();

        // The teardown cancels the request and ends the use once the kernel let go of it.
        ctx.Dispose();
        var ended = Assert.ThrowsAny<Exception>(() => pending.Wait(Wait.Default));
        Assert.True(ended.InnerException is ObjectDisposedException or OperationCanceledException, $"ended with {ended.InnerException?.GetType().Name}");
        socket.Dispose();
    }

    [IoUringFact]
    public void A_receive_awaited_on_the_loop_does_not_continue_inside_the_teardown()
    {
        var (ctx, socket, peerSocket) = HomeLoopSockets.Connect();
        using var peer = peerSocket;

        // Awaited on the loop (its thread, its synchronization context), where completions continue inline.
        int continuedOn = 0;
        using var continued = new ManualResetEventSlim();
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(ctx.SynchronizationContext);
        try
        {
            var receive = socket.ReceiveAsync(new byte[16]);
            receive.GetAwaiter().OnCompleted(() =>
            {
                continuedOn = Environment.CurrentManagedThreadId;
                continued.Set();
            });
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        ctx.Poll(false);
        ctx.Dispose();
        Assert.True(continued.Wait(Wait.Default), "the receive's awaiter never continued after the context was disposed");
        Assert.NotEqual(Environment.CurrentManagedThreadId, continuedOn);
        socket.Dispose();
    }

    [IoUringFact]
    public void A_send_cut_short_by_the_teardown_makes_the_sockets_close_a_reset()
    {
        var (ctx, socket, peerSocket) = HomeLoopSockets.Connect();
        using var peer = peerSocket;
        var send = socket.SendAsync(new byte[64 << 20]).AsTask();
        LoopDriver.PollUntil(ctx, () => !socket.SendSide.KernelIdle, "the SEND in the kernel");

        // The loop goes first, ending the send; the socket's own close comes after, with nothing pending any more.
        ctx.Dispose();
        Assert.ThrowsAny<Exception>(() => send.Wait(Wait.Default));
        socket.Dispose();

        // What arrived may be read; then the reset, not an end of stream that would pass the cut-short data for all of it.
        peer.ReceiveTimeout = (int)Wait.Default.TotalMilliseconds;
        var buffer = new byte[1 << 20];
        var reset = Assert.Throws<SocketException>(() =>
        {
            while (peer.Receive(buffer) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }
}
