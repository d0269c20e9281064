using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

public class SocketCancellationTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Cancelling_a_pending_receive_ends_it_and_loses_no_byte(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            using var cts = new CancellationTokenSource();
            var pending = server.ReceiveAsync(new byte[16], cts.Token).AsTask();
            cts.Cancel();
            var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Wait.Default));
            Assert.Equal(cts.Token, cancelled.CancellationToken);

            await client.SendAsync("abc"u8.ToArray()).Within("the client's send");
            var buffer = new byte[3];
            await NetLoops.ReceiveExactlyAsync(server, buffer);
            Assert.Equal("abc"u8.ToArray(), buffer);
        }
    }

    /// <summary>
    /// Receives are cancelled at random moments while a sender streams numbered bytes: every receive ends exactly once
    /// (data or cancelled), and the bytes that arrive are exactly the bytes sent, in order. A receiver slower than its
    /// sender always finds data waiting (the epoll monitor then completes the receive before the cancel can win), so the
    /// sender also pauses every few chunks until the receiver has caught up; the receiver then posts a receive on an
    /// empty socket, lets the sender go and cancels at once, so the cancel and the next chunk race for a pending receive.
    /// The sender may pause just after the receiver looked (its send completed, the bytes were received, the pause not
    /// yet published): a receive that nothing cancels also waits for the sender's pause signal, or it would wait for
    /// bytes that the paused sender never sends.
    /// </summary>
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Cancellations_racing_with_data_lose_and_duplicate_nothing(FdMonitorKind kind)
    {
        const int AtLeast = 200_000;
        const int AtMost = 20_000_000;
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            const int ChunksPerPause = 64;
            int stop = 0;
            long pausedAt = -1;
            using var resume = new SemaphoreSlim(0);
            var pauseSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sender = Task.Run(async () =>
            {
                var chunk = new byte[1000];
                long sent = 0;
                int chunks = 0;
                while (Volatile.Read(ref stop) == 0 && sent < AtMost)
                {
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        chunk[i] = (byte)((sent + i) % 251);
                    }

                    await client.SendAsync(chunk);
                    sent += chunk.Length;
                    if (++chunks % ChunksPerPause == 0)
                    {
                        Volatile.Write(ref pausedAt, sent);
                        Volatile.Read(ref pauseSignal).TrySetResult();
                        Assert.True(await resume.WaitAsync(Wait.Default), "the receiver never caught up with the paused sender");
                    }
                }

                client.Shutdown(SocketShutdown.Send);
                return sent;
            });

            var random = new Random(12345);
            var buffer = new byte[777];
            long received = 0;
            int completions = 0, cancellations = 0, attempts = 0;
            while (true)
            {
                if ((received >= AtLeast && cancellations > 0) || received >= AtMost)
                {
                    Volatile.Write(ref stop, 1);
                }

                attempts++;
                using var cts = new CancellationTokenSource();
                var pending = server.ReceiveAsync(buffer, cts.Token).AsTask();
                if (Volatile.Read(ref pausedAt) == received)
                {
                    // The sender waits for us and everything it sent is here: this receive is pending on an empty
                    // socket. Release the sender and cancel at once, racing the next chunk.
                    ReleaseSender();
                    cts.Cancel();
                }
                else if (random.Next(3) == 0)
                {
                    cts.Cancel();
                }
                else
                {
                    // Nothing cancels this receive: if the sender pauses now with all it sent already here, no byte
                    // comes until it is released. Then release it and cancel, as above.
                    await Task.WhenAny(pending, Volatile.Read(ref pauseSignal).Task).WaitAsync(Wait.Default);
                    if (!pending.IsCompleted && Volatile.Read(ref pausedAt) == received)
                    {
                        ReleaseSender();
                        cts.Cancel();
                    }
                }

                try
                {
                    int n = await pending.WaitAsync(Wait.Default);
                    completions++;
                    if (n == 0)
                    {
                        break;
                    }

                    for (int i = 0; i < n; i++)
                    {
                        Assert.True(buffer[i] == (byte)((received + i) % 251), $"byte {received + i} is wrong: a byte was lost or duplicated");
                    }

                    received += n;
                }
                catch (OperationCanceledException)
                {
                    cancellations++;
                }
            }

            long total = await sender.WaitAsync(Wait.Default);
            Assert.Equal(total, received);
            Assert.Equal(attempts, completions + cancellations);
            Assert.True(cancellations > 0, $"no receive was cancelled in {received} bytes");

            void ReleaseSender()
            {
                // A fresh signal before the release: the sender's next pause completes this one, not the last.
                Volatile.Write(ref pausedAt, -1);
                Volatile.Write(ref pauseSignal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                resume.Release();
            }
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_hundred_thousand_cancelled_receives_each_end_exactly_once(FdMonitorKind kind)
    {
        const int Rounds = 100_000;
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var buffer = new byte[8];
            int cancelled = 0;
            using var cts = new CancellationTokenSource();
            for (int i = 0; i < Rounds; i++)
            {
                using var round = new CancellationTokenSource();
                var pending = server.ReceiveAsync(buffer, round.Token);
                round.Cancel();
                try
                {
                    await pending.AsTask().WaitAsync(Wait.Default);
                    Assert.Fail("a receive with no data completed");
                }
                catch (OperationCanceledException ex) when (ex.CancellationToken == round.Token)
                {
                    cancelled++;
                }
            }

            Assert.Equal(Rounds, cancelled);

            // Nothing stale is left behind: the next receive gets the next data.
            await client.SendAsync(new byte[] { 42 }).Within("the client's send");
            Assert.Equal(1, await server.ReceiveAsync(buffer).AsTask().WaitAsync(Wait.Default));
            Assert.Equal(42, buffer[0]);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_token_cancelled_after_its_receive_completed_cancels_nothing_later(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            using var first = new CancellationTokenSource();
            var buffer = new byte[8];
            await client.SendAsync(new byte[] { 1 }).Within("the client's first send");
            Assert.Equal(1, await server.ReceiveAsync(buffer, first.Token).Within("the server's first receive"));
            var second = server.ReceiveAsync(buffer).AsTask();
            first.Cancel();
            await client.SendAsync(new byte[] { 2 }).Within("the client's second send");
            Assert.Equal(1, await second.WaitAsync(Wait.Default));
            Assert.Equal(2, buffer[0]);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Cancelling_a_blocked_send_ends_it_with_OperationCanceledException(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            // Nobody reads on the server: a large enough send blocks once the socket buffers are full.
            using var cts = new CancellationTokenSource();
            var big = new byte[64 << 20];
            var pending = client.SendAsync(big, cts.Token).AsTask();
            Assert.False(pending.IsCompleted, "64 MiB fit in the socket buffers");
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Wait.Default));
        }
    }
}
