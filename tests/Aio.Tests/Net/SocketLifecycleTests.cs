using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

public class SocketLifecycleTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_with_operations_pending_ends_them_and_the_peer_sees_an_orderly_end(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        {
            var pending = server.ReceiveAsync(new byte[64]).AsTask();
            await server.DisposeAsync();
            var ended = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
            Assert.True(ended is ObjectDisposedException or OperationCanceledException, $"the pending receive ended with {ended.GetType().Name}");
            Assert.Equal(0, await client.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default));
            Assert.Throws<ObjectDisposedException>(() => { _ = server.ReceiveAsync(new byte[1]); });
            Assert.Throws<ObjectDisposedException>(() => { _ = server.SendAsync(new byte[1]); });
            Assert.Throws<ObjectDisposedException>(() => server.Shutdown(SocketShutdown.Both));
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_with_a_send_pending_resets_the_connection(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        {
            // More than both socket buffers hold, and the client reads nothing yet: the send stays pending.
            var pending = server.SendAsync(new byte[64 << 20]).AsTask();
            await server.DisposeAsync();
            var ended = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
            Assert.True(ended is ObjectDisposedException or OperationCanceledException, $"the pending send ended with {ended.GetType().Name}");

            // What arrived may be read; then the reset, not an end of stream that would pass the cut-short data for all of it.
            var buffer = new byte[1 << 20];
            var reset = await Assert.ThrowsAsync<SocketException>(async () =>
            {
                while (await client.ReceiveAsync(buffer).AsTask().WaitAsync(Wait.Default) > 0)
                {
                }
            });
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        }
    }

    [IoUringFact]
    public void Abort_after_a_Dispose_still_waiting_for_the_kernel_resets_the_connection()
    {
        var (ctx, socket, peerSocket) = HomeLoopSockets.Connect();
        using var peer = peerSocket;

        // A receive in the kernel: the close started by DisposeAsync (here, on the loop's thread) waits for its cancel.
        _ = socket.ReceiveAsync(new byte[16]).AsTask();
        ctx.Poll(false);
        var closing = socket.DisposeAsync().AsTask();
        Assert.False(closing.IsCompleted, "the close finished without waiting for the kernel: the test cannot upgrade it");
        socket.Abort();
        LoopDriver.PollUntil(ctx, () => closing.IsCompleted, "the close");

        peer.ReceiveTimeout = (int)Wait.Default.TotalMilliseconds;
        var reset = Assert.Throws<SocketException>(() => peer.Receive(new byte[1]));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        ctx.Dispose();
    }

    [Fact]
    public async Task RemoteEndPoint_is_not_the_callers_mutable_end_point()
    {
        using var loops = new NetLoops(FdMonitorKind.Poll);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var remote = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndPoint).Port);
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await AioSocket.ConnectAsync(loops.Client.Context, remote).AsTask().WaitAsync(Wait.Default);
        await using var server = await accept.WaitAsync(Wait.Default);

        int port = remote.Port;
        remote.Port = 1;
        Assert.Equal(port, ((IPEndPoint)client.RemoteEndPoint!).Port);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_with_received_data_left_unread_resets_the_connection(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        {
            // The peer sends 1000 bytes; the server reads 10 of them and closes. On the ring the rest sits in the loop's
            // buffers, not in the socket's queue: the close must still reset, as TCP does for unread data.
            Assert.Equal(1000, await client.SendAsync(new byte[1000]).AsTask().WaitAsync(Wait.Default));
            Assert.Equal(10, await server.ReceiveAsync(new byte[10]).AsTask().WaitAsync(Wait.Default));
            await server.DisposeAsync();
            var reset = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default));
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Abort_resets_the_connection_and_fails_pending_operations_with_SocketException(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        {
            var pending = server.ReceiveAsync(new byte[64]).AsTask();
            server.Abort();
            await Assert.ThrowsAsync<SocketException>(() => pending.WaitAsync(Wait.Default));
            var reset = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default));
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_second_concurrent_receive_or_send_is_refused(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var first = server.ReceiveAsync(new byte[8]);
            Assert.Throws<InvalidOperationException>(() => { _ = server.ReceiveAsync(new byte[8]); });
            await client.SendAsync(new byte[] { 1, 2, 3 }).Within("the client's first send");
            Assert.Equal(3, await first.AsTask().WaitAsync(Wait.Default));

            // The refused call changed nothing: the next receive works.
            await client.SendAsync(new byte[] { 4 }).Within("the client's second send");
            var buffer = new byte[8];
            Assert.Equal(1, await server.ReceiveAsync(buffer).AsTask().WaitAsync(Wait.Default));
            Assert.Equal(4, buffer[0]);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_a_listener_ends_a_pending_accept_with_ObjectDisposedException(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var pending = listener.AcceptAsync().AsTask();
        await listener.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(Wait.Default));
        Assert.Throws<ObjectDisposedException>(() => { _ = listener.AcceptAsync(); });
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Concurrent_accepts_each_get_a_connection_and_all_end_when_the_listener_is_disposed(FdMonitorKind kind)
    {
        // As with Socket: several accept loops may wait on one listener at once.
        using var loops = new NetLoops(kind);
        var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accepts = Enumerable.Range(0, 3).Select(_ => listener.AcceptAsync().AsTask()).ToList();
        var clients = new List<AioSocket>();
        for (int i = 0; i < 3; i++)
        {
            clients.Add(await AioSocket.ConnectAsync(loops.Client.Context, listener.LocalEndPoint).AsTask().WaitAsync(Wait.Default));
        }

        var accepted = await Task.WhenAll(accepts).WaitAsync(Wait.Default);
        var peers = accepted.Select(s => s.RemoteEndPoint!.ToString()).ToHashSet();
        Assert.Equal(clients.Select(c => c.LocalEndPoint!.ToString()).ToHashSet(), peers);

        var waiting = Enumerable.Range(0, 3).Select(_ => listener.AcceptAsync().AsTask()).ToList();
        await listener.DisposeAsync();
        foreach (var w in waiting)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => w.WaitAsync(Wait.Default));
        }

        foreach (var s in accepted.Concat(clients))
        {
            await s.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_synchronous_Dispose_off_the_loop_returns_with_the_fds_closed(FdMonitorKind kind)
    {
        // As Socket.Dispose: the port can be bound again and the Unix socket's file is gone when Dispose returns, and
        // a disposed connection's peer reads the end of the stream without waiting for the loop.
        using var loops = new NetLoops(kind);
        using var dir = new TempDir();
        var listener = BindOutsideEphemeralRange(loops.Server.Context);
        var port = ((IPEndPoint)listener.LocalEndPoint).Port;
        var accept = listener.AcceptAsync().AsTask();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(listener.LocalEndPoint).WaitAsync(Wait.Default);
        var accepted = await accept.WaitAsync(Wait.Default);
        for (int round = 0; round < 20; round++)
        {
            listener.Dispose();
            listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, port));
        }

        listener.Dispose();
        accepted.Dispose();
        peer.ReceiveTimeout = (int)Wait.Default.TotalMilliseconds;
        Assert.Equal(0, peer.Receive(new byte[1]));

        string path = Path.Combine(dir.Path, "s.sock");
        var unix = AioListener.Bind(loops.Server.Context, new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));
        unix.Dispose();
        Assert.False(File.Exists(path), "the socket file outlived Dispose");
    }

    /// <summary>
    /// A listener on a free loopback port below the kernel's ephemeral range. A port 0 gave is in that range, and while
    /// the test has it closed between two binds, any connect elsewhere in the process (the suite runs in parallel) may
    /// take it as its local port: the next bind then fails with EADDRINUSE, which happened once in a full run.
    /// </summary>
    private static AioListener BindOutsideEphemeralRange(AioContext context)
    {
        int low = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random();
        for (int attempt = 0; attempt < 200; attempt++)
        {
            try
            {
                return AioListener.Bind(context, new IPEndPoint(IPAddress.Loopback, random.Next(20000, Math.Max(20001, low))));
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                // Taken: another port.
            }
        }

        Assert.Fail($"no free loopback port in [20000, {low})");
        return null!;
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_listener_closing_after_its_socket_file_was_replaced_leaves_the_new_one(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "s.sock");
        var old = AioListener.Bind(loops.Server.Context, new UnixDomainSocketEndPoint(path));

        // Another server takes the path over (as a restart does: remove the stale file, bind) before the old one closed.
        File.Delete(path);
        using var replacement = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        replacement.Bind(new UnixDomainSocketEndPoint(path));
        replacement.Listen();
        old.Dispose();

        Assert.True(File.Exists(path), "the old listener's close deleted the new server's socket file");
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        using var accepted = replacement.Accept();
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_a_listener_closes_the_connections_nobody_accepted(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));

        // One accept arms the listener (a multishot ACCEPT then queues what follows); the rest are never accepted.
        var accept = listener.AcceptAsync().AsTask();
        var first = await AioSocket.ConnectAsync(loops.Client.Context, listener.LocalEndPoint).Within("the first client's connect");
        var taken = await accept.WaitAsync(Wait.Default);
        var orphans = new List<AioSocket>();
        for (int i = 0; i < 3; i++)
        {
            orphans.Add(await AioSocket.ConnectAsync(loops.Client.Context, listener.LocalEndPoint).Within("an unaccepted client's connect"));
        }

        await listener.DisposeAsync();
        foreach (var orphan in orphans)
        {
            var end = await ReceiveEndAsync(orphan);
            Assert.True(end is 0 or (int)SocketError.ConnectionReset, $"an unaccepted connection was not closed ({end})");
            await orphan.DisposeAsync();
        }

        await first.DisposeAsync();
        await taken.DisposeAsync();
    }

    [IoUringFact]
    public async Task An_accept_from_another_thread_takes_a_queued_connection_at_once()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));

        // The first accept arms the multishot ACCEPT; the connections after it queue on the listener.
        var first = listener.AcceptAsync().AsTask();
        var clients = new List<AioSocket> { await AioSocket.ConnectAsync(loops.Client.Context, listener.LocalEndPoint).Within("the first client's connect") };
        var accepted = new List<AioSocket> { await first.WaitAsync(Wait.Default) };
        for (int i = 0; i < 3; i++)
        {
            clients.Add(await AioSocket.ConnectAsync(loops.Client.Context, listener.LocalEndPoint).Within("a queued client's connect"));
        }

        Wait.Until(() => listener.QueuedConnections == 3, () => Thread.Sleep(1), "the listener to queue 3 connections");
        for (int i = 0; i < 3; i++)
        {
            var next = listener.AcceptAsync();
            Assert.True(next.IsCompletedSuccessfully, $"accept {i} waited for the loop although a connection was queued");
            accepted.Add(await next);
        }

        // Each accepted socket is a distinct, working connection.
        for (int i = 0; i < clients.Count; i++)
        {
            await clients[i].SendAsync(new[] { (byte)i }).Within("a client's send");
        }

        var seen = new HashSet<int>();
        foreach (var socket in accepted)
        {
            var b = new byte[1];
            Assert.Equal(1, await socket.ReceiveAsync(b).AsTask().WaitAsync(Wait.Default));
            seen.Add(b[0]);
        }

        Assert.Equal(4, seen.Count);
        foreach (var socket in clients.Concat(accepted))
        {
            await socket.DisposeAsync();
        }
    }

    [IoUringFact]
    public async Task Pre_pinned_memory_stays_reachable_while_an_abandoned_send_may_still_read_it()
    {
        // A send stuck on a peer that does not read, its context disposed off its home thread: the kernel may still
        // read the array, which nothing else references, so it must stay reachable (KernelHeldMemory).
        using var dotnetListener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        dotnetListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        dotnetListener.Listen();
        using var peer = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await peer.ConnectAsync(dotnetListener.LocalEndPoint!).Within("the peer's connect");
        using var accepted = await dotnetListener.AcceptAsync().Within("the accept");

        AioContext? context = null;
        AioSocket? socket = null;
        Task<int>? send = null;
        WeakReference? array = null;
        var home = new Thread(() =>
        {
            context = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            socket = AioSocket.Adopt(context, accepted);
            (send, array) = SendPinnedArray(socket);

            // Until an iteration finds nothing to do: the socket buffers are full and the send waits in the kernel.
            while (context.Poll(blocking: false))
            {
            }
        });
        home.Start();
        Assert.True(home.Join(Wait.Default), "the home thread did not return");
        Assert.False(send!.IsCompleted, "the send finished: the socket buffers took 16 MiB");

        int keptBefore = Aio.Async.KernelHeldMemory.Count;
        context!.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => send.WaitAsync(Wait.Default));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.True(array!.IsAlive, "the array of an abandoned send was collected: the kernel may still read it");
        Assert.True(Aio.Async.KernelHeldMemory.Count > keptBefore, "nothing was kept");
        await socket!.DisposeAsync();
    }

    /// <summary>Starts a send of a fresh 16 MiB pinned-heap array that nothing but the operation references.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (Task<int> Send, WeakReference Array) SendPinnedArray(AioSocket socket)
    {
        // As Kestrel's pool hands out its blocks: memory marked pre-pinned, whose Pin() takes no GC handle.
        var buffer = GC.AllocateArray<byte>(16 << 20, pinned: true);
        return (socket.SendAsync(System.Runtime.InteropServices.MemoryMarshal.CreateFromPinnedArray(buffer, 0, buffer.Length)).AsTask(), new WeakReference(buffer));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_the_context_with_a_hand_over_queued_fails_the_use(FdMonitorKind kind)
    {
        // A receive and a send started from another thread are handed to the loop as a scheduled bottom half. The
        // loop never runs here before its context is disposed: the dropped hand-over must fail its use, not leave it
        // pending until somebody disposes the socket.
        using var dotnetListener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        dotnetListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        dotnetListener.Listen();
        using var peer = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(dotnetListener.LocalEndPoint!).Within("the peer's connect");
        using var accepted = await dotnetListener.AcceptAsync().Within("the accept");

        var context = AioContext.Create(new AioContextOptions { Monitor = kind });
        context.Poll(blocking: false);   // binds this thread as the home thread
        var socket = AioSocket.Adopt(context, accepted);
        try
        {
            // A thread of its own: never the home thread, so both uses are handed over.
            Task<int>? receive = null;
            Task<int>? send = null;
            var caller = new Thread(() =>
            {
                receive = socket.ReceiveAsync(new byte[16]).AsTask();
                send = socket.SendAsync(new byte[16]).AsTask();
            });
            caller.Start();
            Assert.True(caller.Join(Wait.Default), "the caller thread did not return");
            Assert.NotNull(receive);
            Assert.NotNull(send);
            Assert.False(receive.IsCompleted);
            Assert.False(send.IsCompleted);

            context.Dispose();

            await Assert.ThrowsAsync<ObjectDisposedException>(() => receive.WaitAsync(Wait.Default));
            await Assert.ThrowsAsync<ObjectDisposedException>(() => send.WaitAsync(Wait.Default));
        }
        finally
        {
            context.Dispose();
            await socket.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_send_that_starts_after_the_close_freed_the_iovec_list_fails_and_touches_no_native_memory(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        {
            var twoSegments = Sequences.Segmented(2, i => new byte[] { (byte)i });
            await server.SendAsync(twoSegments).AsTask().WaitAsync(Wait.Default);
            Assert.True(server.SendListAllocated, "a gathered send fills the native iovec list");
            await server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
            Assert.False(server.SendListAllocated, "the close frees the list");

            // A sender on another thread that passed the disposed check just before the close finished now fills the
            // list: it must fail its send, and neither write into the freed list nor allocate one that nobody frees.
            var late = server.SendPastDisposedCheck(twoSegments);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => late.AsTask().WaitAsync(Wait.Default));
            Assert.False(server.SendListAllocated, "a send after the close allocated a new iovec list");
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Disposing_while_another_thread_sends_ends_every_sender(FdMonitorKind kind)
    {
        // Each round races a send being handed over from a pool thread with the close on the loop. Before the close
        // failed uses published while it finished, a few rounds in every few thousand lost the send's hand-over and the
        // sender waited for good; and a close could free the iovec list under a sender filling it.
        const int Rounds = 2000;
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var segments = Sequences.Segmented(3, i => new byte[100]);
        int ended = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var (client, server) = await loops.ConnectAsync(listener);
            await using (client)
            {
                using var start = new Barrier(2);
                var sender = Task.Run(async () =>
                {
                    Assert.True(start.SignalAndWait(Wait.Default), "the disposer did not arrive");
                    try
                    {
                        while (true)
                        {
                            await server.SendAsync(segments);
                        }
                    }
                    catch (ObjectDisposedException)
                    {
                        return 1;
                    }
                });
                Assert.True(start.SignalAndWait(Wait.Default), "the sender did not arrive");
                await server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
                ended += await sender.WaitAsync(Wait.Default);
            }
        }

        Assert.Equal(Rounds, ended);
    }

    private static async Task<int> ReceiveEndAsync(AioSocket socket)
    {
        try
        {
            return await socket.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default);
        }
        catch (SocketException ex)
        {
            return (int)ex.SocketErrorCode;
        }
    }
}
