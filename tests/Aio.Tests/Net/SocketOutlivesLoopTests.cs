using System.Net;
using System.Net.Sockets;
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
        var (listener, client, peer) = await ConnectFromServerLoopAsync(loops);
        await using var listening = listener;
        await using var connected = peer;

        // The client socket (on the server loop) arms its multishot receive, then reads nothing while 1 MiB comes:
        // it stops at its limit holding buffers of the loop's ring.
        var sending = peer.SendAsync(new byte[1 << 20]).AsTask();
        Assert.Equal(1, await client.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default));
        Wait.Until(() => !client.ReceiveArmed && client.QueuedReceiveBuffers >= UringReceiveOperation.MaxQueuedBuffers, () => Thread.Sleep(1), "the socket to stop receiving at its limit");
        var ring = client.ReceiveBufferRing!;
        int held = client.QueuedReceiveBuffers;

        await loops.Server.DisposeAsync().Within("the server loop's shutdown");
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
        var (listener, client, peer) = await ConnectFromServerLoopAsync(loops);
        await using var listening = listener;
        await using var connected = peer;
        var pending = client.ReceiveAsync(new byte[16]).AsTask();

        // One callback on the loop: the close starts (its receive's cancel is queued), then the context goes.
        await CloseThenDisposeContextOnTheLoopAsync(loops.Server.Context, () => client.DisposeAsync().AsTask());
        await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));

        // The fd was closed: the peer reads the end of the stream.
        Assert.Equal(0, await peer.ReceiveAsync(new byte[16]).AsTask().WaitAsync(Wait.Default));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_close_queued_to_a_loop_that_disposes_its_context_first_finishes(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        var (listener, client, peer) = await ConnectFromServerLoopAsync(loops);
        await using var listening = listener;
        await using var connected = peer;
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

        await CloseThenDisposeContextOnTheLoopAsync(loops.Server.Context, () => listener.DisposeAsync().AsTask());
        await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));

        // The port is free again: its fd was closed.
        await using var again = AioListener.Bind(loops.Client.Context, endPoint);
        Assert.Equal(endPoint.Port, ((IPEndPoint)again.LocalEndPoint).Port);
    }

    [IoUringFact]
    public async Task A_connection_accepted_in_the_batch_whose_callback_disposed_the_context_is_closed_not_leaked()
    {
        // The multishot ACCEPT stays armed with nobody waiting. A client connects, and a NOP whose handler disposes the
        // context is submitted: one enter posts the NOP's completion and then the accept's (the connection's task
        // work), and the NOP's handler runs first, so the accept's is reaped and never delivered. Its new fd must be
        // closed, not dropped (the client would then wait for an end that never comes).
        var context = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var listener = AioListener.Bind(context, new IPEndPoint(IPAddress.Loopback, 0));
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync().AsTask();
        first.Connect(listener.LocalEndPoint);
        Wait.Until(() => accept.IsCompleted, () => context.Poll(false), "the first connection to be accepted");
        await using (await accept)
        {
        }

        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        second.Connect(listener.LocalEndPoint);
        var disposer = new DisposingHandler(context);
        context.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, disposer);
        Wait.Until(() => context.IsDisposed, () => context.Poll(false), "the NOP's handler to dispose the context");
        await listener.DisposeAsync().AsTask().WaitAsync(Wait.Default);

        // Closed during the teardown: the client reads the end (FIN), or a reset if it was still in the backlog.
        try
        {
            Assert.Equal(0, second.Receive(new byte[16]));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut)
        {
            Assert.Fail("the connection accepted during the teardown was never closed (its fd leaked)");
        }
    }

    [IoUringFact]
    public void A_connection_accepted_before_a_dispose_from_another_thread_is_closed_not_leaked()
    {
        // The COOP_TASKRUN tier (an outer loop's, or any kernel before 6.1): the kernel posts a completion when the
        // owner thread next makes any system call, without entering the ring. A dispose from another thread cannot
        // enter the ring either; it must still read what was posted, or the accepted fd is lost (the client then waits
        // for an end that never comes). One thread throughout: it is the ring's owner.
        var context = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, OuterLoop = true });
        var listener = AioListener.Bind(context, new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)listener.LocalEndPoint).Port;
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync().AsTask();
        first.Connect(listener.LocalEndPoint);
        Wait.Until(() => accept.IsCompleted, () => context.Poll(false), "the first connection to be accepted");
        accept.Result.Dispose();
        Wait.Until(() => context.Poll(false) == false, () => { }, "the loop to go idle");

        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        second.Connect(listener.LocalEndPoint);
        Wait.Until(() => AcceptQueueLength(port) == 0, () => Thread.Sleep(1), "the multishot ACCEPT to take the second connection");
        Assert.True(Task.Run(context.Dispose).Wait(Wait.Default), "the dispose from another thread did not return");
        Assert.True(listener.DisposeAsync().AsTask().Wait(Wait.Default), "the listener did not close");

        try
        {
            Assert.Equal(0, second.Receive(new byte[16]));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut)
        {
            Assert.Fail("the connection the kernel accepted before the dispose was never closed (its fd leaked)");
        }
    }

    /// <summary>Connections waiting in the accept queue of the IPv4 loopback listener on <paramref name="port"/> (/proc/net/tcp rx_queue).</summary>
    private static int AcceptQueueLength(int port)
    {
        string local = $"0100007F:{port:X4}";
        foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[1] == local && fields[3] == "0A")
            {
                return Convert.ToInt32(fields[4].Split(':')[1], 16);
            }
        }

        throw new InvalidOperationException($"no listener on 127.0.0.1:{port} in /proc/net/tcp");
    }

    /// <summary>A listener on the client loop and a connection whose client end lives on the server loop (the one the tests dispose).</summary>
    private static async Task<(AioListener Listener, AioSocket Client, AioSocket Peer)> ConnectFromServerLoopAsync(NetLoops loops)
    {
        var listener = AioListener.Bind(loops.Client.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        var client = await AioSocket.ConnectAsync(loops.Server.Context, listener.LocalEndPoint).Within("the client's connect");
        var peer = await accept.WaitAsync(Wait.Default);
        return (listener, client, peer);
    }

    /// <summary>In one callback on the loop: starts a close (its cancels queued), then disposes the context; waits for the close.</summary>
    private static async Task CloseThenDisposeContextOnTheLoopAsync(AioContext context, Func<Task> close)
    {
        var closing = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(() =>
        {
            closing.SetResult(close());
            context.Dispose();
        });
        var closed = await closing.Task.WaitAsync(Wait.Default);
        await closed.WaitAsync(Wait.Default);
    }

    private sealed class DisposingHandler(AioContext context) : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe) => context.Dispose();
    }
}
