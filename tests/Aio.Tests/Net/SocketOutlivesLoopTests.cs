using System.Net;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// Sockets and listeners whose context is disposed around their close: the close still finishes (the fd is closed,
/// DisposeAsync completes) whether it started on the loop just before the dispose, was queued to the loop and never
/// ran, or comes after; and buffers a socket holds from its loop's buffer ring stay valid until it gives them back.
/// </summary>
public class SocketOutlivesLoopTests
{
    [IoUringFact]
    public async Task The_buffer_ring_outlives_its_loop_until_the_last_socket_gives_its_buffers_back()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Client.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        var client = await AioSocket.ConnectAsync(loops.Server.Context, listener.LocalEndPoint);
        await using var peer = await accept.WaitAsync(Wait.Default);

        // The client socket (on the server loop) arms its multishot receive, then reads nothing while 1 MiB comes:
        // it stops at its limit holding buffers of the loop's ring.
        var sending = peer.SendAsync(new byte[1 << 20]).AsTask();
        Assert.Equal(1, await client.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default));
        Wait.Until(() => !client.ReceiveArmed && client.QueuedReceiveBuffers >= UringReceiveOperation.MaxQueuedBuffers, () => Thread.Sleep(1), "the socket to stop receiving at its limit");
        var ring = client.ReceiveBufferRing!;
        int held = client.QueuedReceiveBuffers;

        await loops.Server.DisposeAsync();
        Assert.False(ring.Freed, "the loop freed its buffer ring while a socket still held buffers of it");
        Assert.Equal(held, ring.Outstanding);

        // Closed after its loop (here, on the test's thread): gives the buffers back, and the last one frees the ring.
        await client.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Assert.Equal(0, ring.Outstanding);
        Assert.True(ring.Freed, "the buffer ring was not freed after the last buffer came back");

        // The sender ends either way (all of it in the socket buffers, or reset by the close with data unread).
        _ = await Record.ExceptionAsync(() => sending.WaitAsync(Wait.Default));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_close_started_on_the_loop_right_before_its_context_is_disposed_finishes(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Client.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        var client = await AioSocket.ConnectAsync(loops.Server.Context, listener.LocalEndPoint);
        await using var peer = await accept.WaitAsync(Wait.Default);
        var pending = client.ReceiveAsync(new byte[16]).AsTask();

        // One callback on the loop: the close starts (its receive's cancel is queued), then the context goes.
        var context = loops.Server.Context;
        var closing = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(() =>
        {
            closing.SetResult(client.DisposeAsync().AsTask());
            context.Dispose();
        });
        var closed = await closing.Task.WaitAsync(Wait.Default);
        await closed.WaitAsync(Wait.Default);
        await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));

        // The fd was closed: the peer reads the end of the stream.
        Assert.Equal(0, await peer.ReceiveAsync(new byte[16]).AsTask().WaitAsync(Wait.Default));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_close_queued_to_a_loop_that_disposes_its_context_first_finishes(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Client.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        var client = await AioSocket.ConnectAsync(loops.Server.Context, listener.LocalEndPoint);
        await using var peer = await accept.WaitAsync(Wait.Default);
        var pending = client.ReceiveAsync(new byte[16]).AsTask();

        // The loop is held in a callback while the close is requested from this thread (queued to the loop as a bottom
        // half); the callback then disposes the context, so that bottom half never runs.
        var context = loops.Server.Context;
        using var release = new ManualResetEventSlim();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(() =>
        {
            held.SetResult();
            release.Wait(Wait.Default);
            context.Dispose();
        });
        await held.Task.WaitAsync(Wait.Default);
        var closed = client.DisposeAsync().AsTask();
        release.Set();

        await closed.WaitAsync(Wait.Default);
        await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.Equal(0, await peer.ReceiveAsync(new byte[16]).AsTask().WaitAsync(Wait.Default));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_listener_closed_on_the_loop_right_before_its_context_is_disposed_gives_its_port_back(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var endPoint = (IPEndPoint)listener.LocalEndPoint;
        var pending = listener.AcceptAsync().AsTask();

        var context = loops.Server.Context;
        var closing = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(() =>
        {
            closing.SetResult(listener.DisposeAsync().AsTask());
            context.Dispose();
        });
        var closed = await closing.Task.WaitAsync(Wait.Default);
        await closed.WaitAsync(Wait.Default);
        await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));

        // The port is free again: its fd was closed.
        await using var again = AioListener.Bind(loops.Client.Context, endPoint);
        Assert.Equal(endPoint.Port, ((IPEndPoint)again.LocalEndPoint).Port);
    }
}
