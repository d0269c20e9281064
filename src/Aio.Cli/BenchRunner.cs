using System.Diagnostics;
using Aio.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aio.Cli;

/// <summary>
/// The fio-like workload: <c>iodepth</c> requests always in flight per loop, each worker re-issuing as soon as its
/// request completes. Engines: io_uring (BlockFile on IoThreads, workers awaiting on the loop), threads (BlockFile's
/// thread-pool engine) and randomaccess (.NET's <see cref="RandomAccess"/> on the thread pool at the same concurrency).
/// </summary>
internal static class BenchRunner
{
    public static BenchResult Run(BenchOptions o, string path, CancellationToken ct)
    {
        long blocks = new FileInfo(path).Length / o.BlockSize;
        if (blocks < 1)
        {
            throw new UsageException($"--bs {o.BlockSize} is larger than the file");
        }

        return o.Engine switch
        {
            "randomaccess" => RunRandomAccess(o, path, blocks, ct),
            _ => RunLoops(o, path, blocks, ct),
        };
    }

    private static BenchResult RunLoops(BenchOptions o, string path, long blocks, CancellationToken ct)
    {
        var engine = o.Engine == "threads" ? BlockEngine.Threads : BlockEngine.IoUring;
        var loops = new IoThread[o.Threads];
        var files = new BlockFile[o.Threads];
        var histograms = new LatencyHistogram[o.Threads];
        try
        {
            for (int t = 0; t < o.Threads; t++)
            {
                loops[t] = IoThread.Start($"bench-{t}", new AioContextOptions { Monitor = o.Monitor });
                loops[t].Context.SetAioParameters(o.MaxBatch);
                files[t] = BlockFile.Open(loops[t].Context, path, new BlockFileOptions { Direct = o.Direct, Engine = engine, ReadOnly = !o.IsWrite });
                histograms[t] = new LatencyHistogram();
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);

            // Allocations are counted on the loop threads, where the I/O path runs (not the status spinner's).
            long alloc0 = LoopAllocations(loops);
            var usage0 = Libc.CpuTime(Libc.RUSAGE_SELF);
            var sw = Stopwatch.StartNew();
            var tasks = new Task<long>[o.Threads];
            for (int t = 0; t < o.Threads; t++)
            {
                int me = t;
                tasks[t] = loops[t].Context.InvokeAsync(() => LoopWorkers(o, files[me], blocks, histograms[me], me, stop.Token));
            }

            stop.CancelAfter(o.Runtime);
            Task.WaitAll(tasks);
            double seconds = sw.Elapsed.TotalSeconds;
            var usage1 = Libc.CpuTime(Libc.RUSAGE_SELF);
            long alloc1 = LoopAllocations(loops);
            var all = new LatencyHistogram();
            long ios = 0;
            for (int t = 0; t < o.Threads; t++)
            {
                all.Add(histograms[t]);
                ios += tasks[t].Result;
            }

            return Result(o, o.Engine, ios, seconds, all, usage0, usage1, alloc1 - alloc0);
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

    private static long LoopAllocations(IoThread[] loops)
        => loops.Sum(l => l.Context.InvokeAsync(() => Task.FromResult(GC.GetAllocatedBytesForCurrentThread())).Result);

    /// <summary>On the loop: <c>iodepth</c> workers; returns the number of I/Os done.</summary>
    private static async Task<long> LoopWorkers(BenchOptions o, BlockFile file, long blocks, LatencyHistogram histogram, int seed, CancellationToken stop)
    {
        var workers = new Task<long>[o.IoDepth];
        for (int w = 0; w < o.IoDepth; w++)
        {
            workers[w] = Worker(o, file, blocks, histogram, (seed * 7919) + w, w, stop);
        }

        long total = 0;
        foreach (var w in workers)
        {
            total += await w;
        }

        return total;
    }

    private static async Task<long> Worker(BenchOptions o, BlockFile file, long blocks, LatencyHistogram histogram, int seed, int index, CancellationToken stop)
    {
        using var buffer = new AlignedBuffer(o.BlockSize, Math.Max(4096, file.Alignment));
        var memory = buffer.Memory;
        if (o.IsWrite)
        {
            new Random(seed).NextBytes(memory.Span);
        }

        var rng = new Random(seed);
        long sequential = index;
        long count = 0;
        while (!stop.IsCancellationRequested)
        {
            long block = o.IsRandom ? rng.NextInt64(blocks) : (sequential += o.IoDepth) % blocks;
            long start = Stopwatch.GetTimestamp();
            if (o.IsWrite)
            {
                await file.WriteAsync(memory, block * o.BlockSize);
            }
            else
            {
                await file.ReadAsync(memory, block * o.BlockSize);
            }

            histogram.Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            count++;
        }

        return count;
    }

    private static BenchResult RunRandomAccess(BenchOptions o, string path, long blocks, CancellationToken ct)
    {
        int flags = (o.IsWrite ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC | (o.Direct ? Libc.O_DIRECT : 0);
        int fd = Errors.Check(Libc.Open(path, flags, 0), $"open({path})");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var histograms = Enumerable.Range(0, o.IoDepth).Select(_ => new LatencyHistogram()).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var usage0 = Libc.CpuTime(Libc.RUSAGE_SELF);
        long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, o.IoDepth).Select(w => Task.Run(async () =>
        {
            using var buffer = new AlignedBuffer(o.BlockSize);
            var rng = new Random(w);
            long sequential = w;
            long count = 0;
            while (!stop.IsCancellationRequested)
            {
                long block = o.IsRandom ? rng.NextInt64(blocks) : (sequential += o.IoDepth) % blocks;
                long start = Stopwatch.GetTimestamp();
                if (o.IsWrite)
                {
                    await RandomAccess.WriteAsync(handle, buffer.Memory, block * o.BlockSize);
                }
                else
                {
                    await RandomAccess.ReadAsync(handle, buffer.Memory, block * o.BlockSize);
                }

                histograms[w].Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
                count++;
            }

            return count;
        })).ToArray();
        stop.CancelAfter(o.Runtime);
        Task.WaitAll(workers);
        double seconds = sw.Elapsed.TotalSeconds;
        long alloc1 = GC.GetTotalAllocatedBytes(precise: true);
        var usage1 = Libc.CpuTime(Libc.RUSAGE_SELF);
        var all = new LatencyHistogram();
        foreach (var h in histograms)
        {
            all.Add(h);
        }

        return Result(o, "randomaccess", workers.Sum(w => w.Result), seconds, all, usage0, usage1, alloc1 - alloc0);
    }

    private static BenchResult Result(BenchOptions o, string engine, long ios, double seconds, LatencyHistogram h, (long UserUs, long SystemUs) u0, (long UserUs, long SystemUs) u1, long allocated)
        => new(
            engine,
            ios,
            seconds,
            h.Quantile(0.50) / 1000,
            h.Quantile(0.99) / 1000,
            h.Quantile(0.999) / 1000,
            (u1.UserUs - u0.UserUs) / 1e6,
            (u1.SystemUs - u0.SystemUs) / 1e6,
            ios == 0 ? 0 : (double)allocated / ios,
            o.BlockSize);
}
