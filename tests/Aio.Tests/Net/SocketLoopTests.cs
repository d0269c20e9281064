using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>Sockets driven from the loop itself: allocations, backpressure, the single-receive path, Adopt and the group.</summary>
public class SocketLoopTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Steady_state_receive_and_send_awaited_on_the_loop_allocate_nothing(FdMonitorKind kind)
    {
        using var io = IoThread.Start("zero-alloc-net", new AioContextOptions { Monitor = kind });
        var measured = io.Context.InvokeAsync(async () =>
        {
            var ctx = AioContext.Current!;
            await using var listener = AioListener.Bind(ctx, new IPEndPoint(IPAddress.Loopback, 0));
            var accept = listener.AcceptAsync();
            await using var client = await AioSocket.ConnectAsync(ctx, listener.LocalEndPoint);
            await using var server = await accept;
            var message = GC.AllocateArray<byte>(64, pinned: true);
            var reply = GC.AllocateArray<byte>(64, pinned: true);
            var gathered = new ReadOnlySequence<byte>(message);

            // One loop in this lambda (its state machine is allocated once): a helper async method would allocate a
            // box per call whenever it suspends, which is the test's allocation, not the socket's.
            // Windows of 10,000 round trips after a warm-up; steady state means a window allocates nothing. (A first
            // EAGAIN on the fallback path registers the fd handler once: a one-time cost, not a per-operation one.)
            long before = 0;
            var windows = new List<long>();
            for (int i = 0; i < 52_000 && !windows.Contains(0); i++)
            {
                if (i >= 2000 && (i - 2000) % 10_000 == 0)
                {
                    if (i > 2000)
                    {
                        windows.Add(GC.GetAllocatedBytesForCurrentThread() - before);
                    }

                    before = GC.GetAllocatedBytesForCurrentThread();
                }

                message[0] = (byte)i;
                if ((i & 1) == 0)
                {
                    await client.SendAsync(message);
                }
                else
                {
                    await client.SendAsync(gathered);
                }

                int got = 0;
                while (got < 64)
                {
                    int n = await server.ReceiveAsync(reply.AsMemory(got));
                    if (n == 0)
                    {
                        // End of stream: fail now, not spin on the loop thread (which would also hang its Dispose).
                        throw new EndOfStreamException($"round {i}: the peer closed after {got} bytes");
                    }

                    got += n;
                }

                if (reply[0] != (byte)i)
                {
                    throw new InvalidDataException($"round {i} received {reply[0]}");
                }
            }

            return windows;
        });
        Wait.For(measured, "socket round trips on the loop", TimeSpan.FromSeconds(120));
        Assert.True(measured.Result.Contains(0), $"no window of 10,000 round trips was free of allocations: {string.Join(", ", measured.Result)} bytes");
    }

    [IoUringFact]
    public async Task An_unread_socket_stops_receiving_at_its_limit_and_resumes_without_losing_a_byte()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            // One receive arms the multishot RECV; then nobody reads while 32 MiB (more than the socket buffers hold) are sent.
            var first = new byte[1];
            var armed = server.ReceiveAsync(first).AsTask();
            var data = new byte[32 << 20];
            new Random(3).NextBytes(data);
            var sending = client.SendAsync(data).AsTask();
            Assert.Equal(1, await armed.WaitAsync(Wait.Default));
            // It stops: the multishot RECV is cancelled once the limit is passed (what the kernel posted before the cancel
            // took effect is queued too). Stopped means nothing more is queued however many iterations the loop runs.
            Wait.Until(() => !server.ReceiveArmed && server.QueuedReceiveBuffers >= UringReceiveOperation.MaxQueuedBuffers, () => Thread.Sleep(1), "the socket to stop receiving at its limit");
            int queued = server.QueuedReceiveBuffers;
            for (int i = 0; i < 20; i++)
            {
                await loops.Server.Context.InvokeAsync(() => Task.CompletedTask).WaitAsync(Wait.Default);
            }

            Assert.Equal(queued, server.QueuedReceiveBuffers);
            Assert.False(server.ReceiveArmed, "the multishot receive was re-armed with nobody reading");
            Assert.False(sending.IsCompleted, "the sender finished although the receiver stopped reading");

            var rest = new byte[data.Length - 1];
            await NetLoops.ReceiveExactlyAsync(server, rest).WaitAsync(Wait.Default);
            await sending.WaitAsync(Wait.Default);
            Assert.Equal(data[0], first[0]);
            Assert.True(data.AsSpan(1).SequenceEqual(rest), "bytes were lost or reordered across the stop and re-arm");
        }
    }

    [IoUringFact]
    public async Task With_the_buffer_ring_exhausted_other_sockets_still_receive()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));

        // Enough silent hoarders to hold every shared buffer: each arms, then nobody reads it.
        int hoarders = NetLoop.BufferCount / UringReceiveOperation.MaxQueuedBuffers + 2;
        var pairs = new List<(AioSocket Client, AioSocket Server)>();
        for (int i = 0; i < hoarders; i++)
        {
            var pair = await loops.ConnectAsync(listener);
            pairs.Add(pair);
            var one = new byte[1];
            var armed = pair.Server.ReceiveAsync(one).AsTask();
            await pair.Client.SendAsync(new byte[NetLoop.BufferSize * (UringReceiveOperation.MaxQueuedBuffers + 2)]).Within("a hoarder's send");
            await armed.WaitAsync(Wait.Default);
        }

        var (client, server) = await loops.ConnectAsync(listener);
        var payload = new byte[100_000];
        new Random(5).NextBytes(payload);
        var received = new byte[payload.Length];
        var receiving = NetLoops.ReceiveExactlyAsync(server, received);
        await client.SendAsync(payload).Within("the client's send of the payload");
        await receiving.WaitAsync(Wait.Default);
        Assert.True(payload.AsSpan().SequenceEqual(received));

        await client.DisposeAsync();
        await server.DisposeAsync();
        foreach (var (c, s) in pairs)
        {
            await c.DisposeAsync();
            await s.DisposeAsync();
        }
    }

    [IoUringFact]
    public async Task The_single_receive_path_delivers_every_byte_and_data_beats_a_late_cancel()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await loops.Server.Context.InvokeAsync(() =>
        {
            AioContext.Current!.NetLoop.MultishotReceive = false;
            return Task.CompletedTask;
        }).Within("the switch to single receives on the server loop");
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var random = new Random(9);
            var buffer = new byte[500];
            int received = 0;
            const int Total = 100_000;

            // First a cancel that must win: a single RECV pending on an empty socket is taken back from the kernel.
            using (var early = new CancellationTokenSource())
            {
                var pending = server.ReceiveAsync(buffer, early.Token).AsTask();
                early.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Wait.Default));
            }

            var sender = Task.Run(async () =>
            {
                var chunk = new byte[1000];
                for (int sent = 0; sent < Total; sent += chunk.Length)
                {
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        chunk[i] = (byte)((sent + i) % 253);
                    }

                    await client.SendAsync(chunk).AsTask().WaitAsync(Wait.Default);
                }
            });
            while (received < Total)
            {
                using var cts = new CancellationTokenSource();
                var pending = server.ReceiveAsync(buffer, cts.Token).AsTask();
                if (random.Next(2) == 0)
                {
                    cts.Cancel();
                }

                try
                {
                    int n = await pending.WaitAsync(Wait.Default);
                    for (int i = 0; i < n; i++)
                    {
                        Assert.True(buffer[i] == (byte)((received + i) % 253), $"byte {received + i} is wrong");
                    }

                    received += n;
                }
                catch (OperationCanceledException)
                {
                    // The cancel won this one: the bytes stay queued for the next receive.
                }
            }

            await sender.WaitAsync(Wait.Default);

            // Every byte arrived once and in order (checked above), whether a cancel or the data won each race (data
            // often wins on this path, where the bytes are usually there before the cancel: then no cancel wins at all).
            Assert.Equal(Total, received);
            Assert.Equal(0, server.QueuedReceiveBuffers);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Adopt_takes_over_a_connected_Socket_and_owns_it(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        using var dotnetListener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        dotnetListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        dotnetListener.Listen();
        var peer = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(dotnetListener.LocalEndPoint!).Within("the peer's connect");
        using var accepted = await dotnetListener.AcceptAsync().Within("the accept");
        var adopted = AioSocket.Adopt(loops.Client.Context, peer);
        Assert.Same(peer, adopted.Socket);
        adopted.Socket.NoDelay = true;
        Assert.True(adopted.Socket.NoDelay);
        await adopted.SendAsync("adopted"u8.ToArray()).Within("the adopted socket's send");
        var buffer = new byte[7];
        int got = 0;
        while (got < 7)
        {
            int n = await accepted.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(Wait.Default);
            Assert.True(n > 0, $"the peer closed after {got} bytes");
            got += n;
        }

        Assert.Equal("adopted"u8.ToArray(), buffer);
        await adopted.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Assert.Throws<ObjectDisposedException>(() => peer.Send(buffer));
        Assert.Equal(0, await accepted.ReceiveAsync(buffer).WaitAsync(Wait.Default));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task The_socket_view_sets_options_on_the_same_fd(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            client.Socket.NoDelay = true;
            Assert.True(client.Socket.NoDelay);
            client.Socket.NoDelay = false;
            Assert.False(client.Socket.NoDelay);
            Assert.Equal(client.LocalEndPoint, client.Socket.LocalEndPoint);
        }
    }

    [Fact]
    public void IoThreadGroup_Next_is_exactly_balanced_across_threads()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => IoThreadGroup.Start("bad", -1));
        using var group = IoThreadGroup.Start("group", 3);
        Assert.Equal(3, group.Threads.Count);
        var counts = new int[3];
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 30_000; i++)
            {
                var t = group.Next();
                Interlocked.Increment(ref counts[group.Threads.ToList().IndexOf(t)]);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Wait.Join(t, "the Next() callers"));
        Assert.All(counts, c => Assert.Equal(40_000, c));
        group.Dispose();
        Assert.Throws<ObjectDisposedException>(() => group.Next());
    }
}
