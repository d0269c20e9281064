using System.Diagnostics;

namespace Aio.Cli;

/// <summary>
/// The fio-like workload: <c>iodepth</c> requests always in flight per loop, each worker re-issuing as soon as its
/// request completes. Engines: io_uring (BlockFile on IoThreads, workers awaiting on the loop), threads (BlockFile's
/// thread-pool engine) and randomaccess (.NET's <see cref="RandomAccess"/> on the thread pool at the same concurrency).
/// Every engine's clock starts when its request is submitted (before any queueing) and stops when the worker that
/// submitted it resumes, so IOPS and mean latency agree by Little's law (IOPS ≈ requests in flight / mean latency).
/// </summary>
internal static class BenchRunner
{
    /// <summary>Runs one engine for the ramp time, then for the runtime; stops early on <paramref name="ct"/>.</summary>
    public static BenchResult Run(BenchOptions o, string path, Region region, Progress progress, CancellationToken ct)
        => o.Engine switch
        {
            "randomaccess" => RunRandomAccess(o, path, region, progress, ct),
            _ => RunLoops(o, path, region, progress, ct),
        };

    /// <summary>Writers of <see cref="Progress"/> an engine needs: one per loop, or one per randomaccess worker.</summary>
    public static int ProgressWriters(BenchOptions o) => o.Engine == "randomaccess" ? o.IoDepth * o.Threads : o.Threads;

    private static BenchResult RunLoops(BenchOptions o, string path, Region region, Progress progress, CancellationToken ct)
    {
        var engine = o.Engine == "threads" ? BlockEngine.Threads : BlockEngine.IoUring;
        var loops = new IoThread[o.Threads];
        var files = new BlockFile[o.Threads];
        var histograms = new LatencyHistogram[o.Threads];
        var verify = o.Verify ? new VerifyMap(region) : null;
        try
        {
            for (int t = 0; t < o.Threads; t++)
            {
                loops[t] = IoThread.Start($"bench-{t}", new AioContextOptions { Monitor = o.Monitor });
                loops[t].Context.SetAioParameters(o.MaxBatch);
                if (o.PollMaxNs is { } pollMaxNs)
                {
                    // After the start: IoThread reads 0 in its options as "the default".
                    loops[t].Context.SetPollParameters(pollMaxNs, 0, 0);
                }

                if (o.CpusAllowed is { } cpus)
                {
                    PinLoop(loops[t], cpus);
                }
                files[t] = BlockFile.Open(loops[t].Context, path, new BlockFileOptions { Direct = o.Direct, Engine = engine, ReadOnly = !o.Writes });
                histograms[t] = new LatencyHistogram();
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var clock = new RunClock(o.RampTime);
            var tasks = new Task<(long Ios, long Reads)>[o.Threads];
            for (int t = 0; t < o.Threads; t++)
            {
                int me = t;
                tasks[t] = loops[t].Context.InvokeAsync(() => LoopWorkers(o, files[me], region, histograms[me], verify, clock, progress, me, stop));
                CancelOnFault(tasks[t], stop);
            }

            stop.CancelAfter(o.RampTime + o.Runtime);

            // Allocations are counted on the loop threads, where the I/O path runs (not the status line's).
            // The CPU first: the allocation counts need a turn of every (busy) loop, which with many loops on few CPUs
            // took a second, and the CPU read after them missed that much of the run.
            clock.WaitForRamp(ct);
            var cpu0 = Cpu();
            var counters0 = LoopCounters.Of(loops);
            long alloc0 = LoopAllocations(loops);
            Task.WaitAll(tasks);
            double seconds = clock.MeasuredSeconds;
            var cpu1 = Cpu();
            var counters1 = LoopCounters.Of(loops);
            long alloc1 = LoopAllocations(loops);
            var all = new LatencyHistogram();
            long ios = 0;
            long reads = 0;
            for (int t = 0; t < o.Threads; t++)
            {
                all.Add(histograms[t]);
                ios += tasks[t].Result.Ios;
                reads += tasks[t].Result.Reads;
            }

            return Result(o, o.Engine, ios, reads, seconds, all, cpu0, cpu1, alloc1 - alloc0) with { Verify = verify?.Check(files[0]), Loop = counters1 - counters0 };
        }
        finally
        {
            foreach (var f in files)
            {
                f?.Dispose();
            }

            foreach (var l in loops)
            {
                l?.Dispose();
            }
        }
    }

    /// <summary>The bytes allocated so far on every loop thread, asked of all loops at once.</summary>
    private static long LoopAllocations(IoThread[] loops)
    {
        var counts = loops.Select(l => l.Context.InvokeAsync(() => Task.FromResult(GC.GetAllocatedBytesForCurrentThread()))).ToArray();
        return counts.Sum(c => c.GetAwaiter().GetResult());
    }

    /// <summary>On the loop: <c>iodepth</c> workers; returns the requests done (and the reads among them) after the ramp.</summary>
    private static async Task<(long Ios, long Reads)> LoopWorkers(BenchOptions o, BlockFile file, Region region, LatencyHistogram histogram, VerifyMap? verify, RunClock clock, Progress progress, int loop, CancellationTokenSource stop)
    {
        var workers = new Task<(long, long)>[o.IoDepth];
        for (int w = 0; w < o.IoDepth; w++)
        {
            var stream = new RequestStream(o, region, (loop * o.IoDepth) + w, o.IoDepth * o.Threads);
            workers[w] = Worker(o, file, stream, histogram, verify, clock, progress, loop, stop.Token);
            CancelOnFault(workers[w], stop);
        }

        // All of them, also after one failed (that failure ends the others): none may still have a request in flight
        // when the files are disposed.
        long ios = 0;
        long reads = 0;
        foreach (var (i, r) in await Task.WhenAll(workers))
        {
            ios += i;
            reads += r;
        }

        return (ios, reads);
    }

    /// <summary>A worker that fails (an I/O error) ends the run for all: the others stop rather than run to the end.</summary>
    private static void CancelOnFault(Task task, CancellationTokenSource stop)
        => task.ContinueWith(
            static (_, state) =>
            {
                try
                {
                    ((CancellationTokenSource)state!).Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The run had ended already.
                }
            },
            stop,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);

    private static async Task<(long, long)> Worker(BenchOptions o, BlockFile file, RequestStream stream, LatencyHistogram histogram, VerifyMap? verify, RunClock clock, Progress progress, int slot, CancellationToken stop)
    {
        using var buffer = new AlignedBuffer(o.BlockSize, Math.Max(4096, file.Alignment));
        var memory = buffer.Memory;
        stream.FillInitial(memory.Span);
        long count = 0;
        long reads = 0;
        // One clock read per request: a request's completion time is the next one's start (nothing waits between
        // them), so the loop thread pays for one vDSO call per I/O, not two.
        long start = Stopwatch.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            var (block, read) = stream.Next();
            long offset = stream.Region.OffsetOf(block);
            if (!read && verify is not null)
            {
                VerifyMap.Fill(memory.Span, offset);
                start = Stopwatch.GetTimestamp();
            }

            if (read)
            {
                await file.ReadAsync(memory, offset);
            }
            else
            {
                await file.WriteAsync(memory, offset);
                verify?.Mark(block);
            }

            long end = Stopwatch.GetTimestamp();
            if (clock.Measuring(start))
            {
                histogram.RecordTicks(start, end);
                count++;
                reads += read ? 1 : 0;
                progress.Add(slot);
            }

            start = end;
        }

        return (count, reads);
    }

    /// <summary>Pins the loop's own thread (not the process): fio's cpus_allowed for a job's thread.</summary>
    private static void PinLoop(IoThread loop, CpuList cpus)
    {
        loop.Context.InvokeAsync(() =>
        {
            ThreadAffinity.Set(cpus, "--cpus-allowed");
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();
    }

    /// <summary>
    /// .NET's RandomAccess at the same concurrency: iodepth × threads requests always queued to or running on the
    /// thread pool (see <see cref="RandomAccessWorker"/> for how, and where its clock starts).
    /// </summary>
    private static BenchResult RunRandomAccess(BenchOptions o, string path, Region region, Progress progress, CancellationToken ct)
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll, Name = "randomaccess" });
        using var file = BlockFile.Open(ctx, path, new BlockFileOptions { Direct = o.Direct, Engine = BlockEngine.Threads, ReadOnly = !o.Writes });
        int n = o.IoDepth * o.Threads;
        var buffers = new AlignedBuffer[n];
        var histograms = new LatencyHistogram[n];
        var workers = new RandomAccessWorker[n];
        var verify = o.Verify ? new VerifyMap(region) : null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var clock = new RunClock(o.RampTime);
        int submitted = 0;
        try
        {
            for (int w = 0; w < n; w++)
            {
                buffers[w] = new AlignedBuffer(o.BlockSize, Math.Max(4096, file.Alignment));
                histograms[w] = new LatencyHistogram();
                workers[w] = new RandomAccessWorker(file.Handle, buffers[w].Memory, new RequestStream(o, region, w, n), histograms[w], verify, clock, progress, w, stop.Token);
            }

            foreach (var w in workers)
            {
                w.Submit();
                submitted++;
            }

            stop.CancelAfter(o.RampTime + o.Runtime);
            clock.WaitForRamp(ct);
            var cpu0 = Cpu();
            long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            var done = workers.Select(w => w.Done).ToArray();
            foreach (var d in done)
            {
                CancelOnFault(d, stop);
            }

            Task.WaitAll(done);
            double seconds = clock.MeasuredSeconds;
            long alloc1 = GC.GetTotalAllocatedBytes(precise: true);
            var cpu1 = Cpu();
            var all = new LatencyHistogram();
            foreach (var h in histograms)
            {
                all.Add(h);
            }

            return Result(o, "randomaccess", done.Sum(d => d.Result.Ios), done.Sum(d => d.Result.Reads), seconds, all, cpu0, cpu1, alloc1 - alloc0) with { Verify = verify?.Check(file) };
        }
        finally
        {
            // One worker failing leaves the others running: stop them all before freeing their buffers.
            // (A worker never submitted never completes: only the submitted ones are waited for.)
            stop.Cancel();
            foreach (var w in workers.Take(submitted))
            {
                ((IAsyncResult)w.Done).AsyncWaitHandle.WaitOne();
            }

            foreach (var b in buffers)
            {
                ((IDisposable?)b)?.Dispose();
            }
        }
    }

    private static (TimeSpan User, TimeSpan System) Cpu()
    {
        using var self = Process.GetCurrentProcess();
        return (self.UserProcessorTime, self.PrivilegedProcessorTime);
    }

    private static BenchResult Result(BenchOptions o, string engine, long ios, long reads, double seconds, LatencyHistogram h, (TimeSpan User, TimeSpan System) c0, (TimeSpan User, TimeSpan System) c1, long allocated)
        => new(
            engine,
            ios,
            seconds,
            h.Stats(LatencyStats.Percentiles),
            (c1.User - c0.User).TotalSeconds,
            (c1.System - c0.System).TotalSeconds,
            ios == 0 ? 0 : (double)allocated / ios,
            o.BlockSize)
        {
            Reads = reads,
        };
}
