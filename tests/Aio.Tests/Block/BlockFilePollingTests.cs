using System.Diagnostics;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>
/// A loop with BlockFile requests in flight busy-polls its ring before it sleeps (QEMU's io_uring block driver's poll
/// handler), with a window that adapts to how long it blocked; socket requests, pending for as long as the peer is
/// quiet, never make it poll; and every request is counted out when it completes.
/// </summary>
public class BlockFilePollingTests
{
    private const int Reads = 300;

    private const long Ceiling = 10_000_000;

    [IoUringFact]
    public async Task Reads_one_at_a_time_make_the_loop_poll_its_ring_instead_of_sleeping()
    {
        using var dir = new TempDir();
        // Durable: two fresh-clone CI runs (a build just before, its output being written back) caught only 1 and 117
        // of 300 reads; a read of a dirty page waits for its write-back, and one over the ceiling resets the window.
        var (path, content) = dir.CreateDurableFile("disk", 1 << 20, seed: 5);

        // A ceiling far above an O_DIRECT read's latency (tens of µs): every read completes inside the window.
        using var io = IoThread.Start("ring-poll", new AioContextOptions { PollMaxNs = Ceiling });
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });
        var before = io.Context.Statistics;
        var (window, inFlight, slow, slowestNs) = await io.Context.InvokeAsync(() => ReadOneAtATimeAsync(file, content)).WaitAsync(Wait.Default);

        Assert.True(window > 0, "the ring's polling window never grew from 0");
        Assert.Equal(0, inFlight);
        var after = io.Context.Statistics;
        long hits = after.PollSuccesses - before.PollSuccesses;

        // The loop's own counts over the reads say which way it went (slept on each read, or found each done at once),
        // and the reads' own times whether the device let it (a read over the ceiling resets the window to 0).
        Assert.True(
            hits > Reads / 2,
            $"only {hits} of {Reads} reads were caught by busy-polling the ring (window now {window} ns; {slow} reads took " +
            $"over the {Ceiling} ns ceiling, the slowest {slowestNs} ns; over the reads: " +
            $"{after.Iterations - before.Iterations} iterations, {after.BlockingWaits - before.BlockingWaits} blocking waits, " +
            $"{after.PollFailures - before.PollFailures} polls that found nothing, {after.RingEnters - before.RingEnters} ring enters, " +
            $"{after.CqesReaped - before.CqesReaped} CQEs)");
    }

    [IoUringFact]
    public async Task With_polling_off_the_loop_never_polls_for_reads()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 1 << 20, seed: 6);
        using var io = IoThread.Start("ring-poll-off");
        io.Context.SetPollParameters(0, 0, 0);
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });
        var (window, inFlight, _, _) = await io.Context.InvokeAsync(() => ReadOneAtATimeAsync(file, content)).WaitAsync(Wait.Default);

        Assert.Equal(0, window);
        Assert.Equal(0, inFlight);
        Assert.Equal(0, io.Context.Statistics.PollSuccesses);
    }

    [IoUringFact]
    public async Task Socket_requests_alone_never_make_the_loop_poll_its_ring()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(loops.Server.Context, NetLoops.Loopback(unix: false));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var buffer = new byte[64];
            for (int i = 0; i < 200; i++)
            {
                await client.SendAsync(new byte[] { (byte)i }).AsTask().WaitAsync(Wait.Default);
                int n = await server.ReceiveAsync(buffer).AsTask().WaitAsync(Wait.Default);
                Assert.Equal(1, n);
            }

            var (window, inFlight) = await loops.Server.Context.InvokeAsync(() => Task.FromResult((loops.Server.Context.RingPollWindowNs, loops.Server.Context.PollableInFlight))).WaitAsync(Wait.Default);
            Assert.Equal(0, window);
            Assert.Equal(0, inFlight);
        }
    }

    [IoUringFact]
    public async Task A_cancelled_read_is_counted_out_like_a_completed_one()
    {
        // A read from an empty FIFO never completes by itself: it ends only by its cancellation's CQE. Opened
        // read-write, the FIFO's open does not wait for a writer.
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            Assert.True(mkfifo.WaitForExit(Wait.Default), "mkfifo did not end");
            Assert.Equal(0, mkfifo.ExitCode);
        }

        using var io = IoThread.Start("ring-poll-cancel");
        await using var file = BlockFile.Open(io.Context, fifo, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = false });
        using var cts = new CancellationTokenSource();
        var read = io.Context.InvokeAsync(() => file.ReadAsync(new byte[16], 0, cts.Token).AsTask());
        Wait.Until(() => io.Context.InvokeAsync(() => Task.FromResult(io.Context.PollableInFlight)).Result == 1, () => Thread.Sleep(1), "the read to be in the ring");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(Wait.Default));
        Assert.Equal(0, await io.Context.InvokeAsync(() => Task.FromResult(io.Context.PollableInFlight)).WaitAsync(Wait.Default));
    }

    /// <summary>
    /// On the loop: reads at depth 1, each checked; returns the ring's window, the requests still counted, and how many
    /// reads took longer than <see cref="Ceiling"/> and the slowest's time.
    /// </summary>
    private static async Task<(long Window, int InFlight, int Slow, long SlowestNs)> ReadOneAtATimeAsync(BlockFile file, byte[] content)
    {
        using var buffer = new AlignedBuffer(4096, 4096);
        int slow = 0;
        long slowestNs = 0;
        for (int i = 0; i < Reads; i++)
        {
            long offset = i * 4096L % content.Length;
            long start = Stopwatch.GetTimestamp();
            Assert.Equal(4096, await file.ReadAsync(buffer.Memory, offset));
            long ns = (long)Stopwatch.GetElapsedTime(start).TotalNanoseconds;
            slow += ns > Ceiling ? 1 : 0;
            slowestNs = Math.Max(slowestNs, ns);
            Assert.True(buffer.Memory.Span.SequenceEqual(content.AsSpan((int)offset, 4096)), $"read {i} returned other data");
        }

        var context = AioContext.Current!;
        return (context.RingPollWindowNs, context.PollableInFlight, slow, slowestNs);
    }
}
