namespace Aio.Cli;

/// <summary><c>aio bench</c>: validates, prepares the file, runs the engines, prints.</summary>
internal static class Bench
{
    /// <summary>Exit code when --verify found blocks that do not hold what was written.</summary>
    public const int VerifyFailed = 3;

    /// <summary>Exit code when interrupted before anything was measured (128 + SIGINT, as a shell reports it).</summary>
    public const int Interrupted = 130;

    /// <summary>Size of the scratch file when no FILE and no --size is given.</summary>
    public const long DefaultScratchSize = 1L << 30;

    /// <summary>The most requests in flight in one run (--iodepth x --threads).</summary>
    public const int MaxRequestsInFlight = 8192;

    /// <summary>The longest --ramp-time + --runtime: CancelAfter's limit (2^32 - 2 ms).</summary>
    public static readonly TimeSpan MaxRunTime = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    public static int Run(BenchOptions o, bool compare)
    {
        Validate(o, compare);
        if (o.File is not null)
        {
            Program.RequireFile(o.File);
        }

        // The first signal stops the fill or the workers (the results print, the finally blocks delete the scratch file);
        // a second ends the process at once. Registered before the fill, so an interrupted fill deletes its file too.
        using var cancel = new Interrupts();
        ScratchFile? scratch = null;
        try
        {
            try
            {
                scratch = o.File is null ? ScratchFile.Create(o.Offset + Math.Max(o.Size ?? DefaultScratchSize, o.BlockSize), o.Json ? null : Output.Line, cancel.Token, cancel.Own) : null;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("aio: interrupted while creating the scratch file (deleted)");
                return Interrupted;
            }

            string path = o.File ?? scratch!.Path;
            var region = RegionOf(o, path);
            o = FallBackFromIoUring(o);

            var results = new List<BenchResult> { Live(o, o.Engine, o, p => BenchRunner.Run(o, path, region, p, cancel.Token)) };
            if (compare)
            {
                Compare(o, path, region, results, cancel.Token);
            }

            // Every request has ended: a signal now (the second of a quick double Ctrl-C) lets the results print.
            cancel.Settle();

            if (cancel.IsCancellationRequested && results.All(r => r.Seconds == 0))
            {
                // Stopped during the ramp: a row of zeros (a 0 µs minimum latency among them) would read as a result.
                Console.Error.WriteLine("aio: interrupted before anything was measured");
                return Interrupted;
            }

            if (cancel.IsCancellationRequested)
            {
                // A comparison row stopped in its ramp measured nothing: zeros would read as a result.
                results.RemoveAll(r => r.Seconds == 0);
            }

            Output.Bench(o, region, results, cancel.IsCancellationRequested);
            if (results.FirstOrDefault(r => r.Verify is { Mismatches: > 0 }) is { Verify: var (checkedBlocks, bad) } failed)
            {
                Console.Error.WriteLine($"aio: verify failed ({failed.Engine}): {bad} of {checkedBlocks} blocks read back differ from what was written");
                return VerifyFailed;
            }

            return 0;
        }
        finally
        {
            cancel.Cancel();
            scratch?.Dispose();
        }
    }

    private static void Validate(BenchOptions o, bool compare)
    {
        RefuseLoopOptionsWithoutLoops(o, compare);
        if (o.IoDepth is < 1 or > 4096)
        {
            throw new UsageException("--iodepth must be between 1 and 4096");
        }

        if (o.Threads is < 1 or > 64)
        {
            throw new UsageException("--threads (--numjobs) must be between 1 and 64");
        }

        if ((long)o.IoDepth * o.Threads > MaxRequestsInFlight)
        {
            // Each request has its own buffer, and the randomaccess row its own worker and latency histogram: 64 x 4096
            // of them ran the process out of memory before it printed anything.
            throw new UsageException($"--iodepth x --threads must be at most {MaxRequestsInFlight} (got {(long)o.IoDepth * o.Threads})");
        }

        if (o.RampTime > MaxRunTime || o.Runtime > MaxRunTime || o.RampTime + o.Runtime > MaxRunTime)
        {
            // The runs are ended by CancelAfter, whose limit this is; refused before the scratch file is filled.
            throw new UsageException("--ramp-time + --runtime must be at most 49 days");
        }

        if (o.Size is { } size && size < o.BlockSize)
        {
            // Known before the scratch file is filled (RegionOf finds it again for a given FILE's length).
            throw new UsageException($"--bs {o.BlockSize} is larger than --size {size}");
        }

        if (o.MaxBatch < 0)
        {
            throw new UsageException("--max-batch must not be negative");
        }

        if (o.PollMaxNs < 0)
        {
            throw new UsageException("--poll-max-ns must not be negative");
        }

        if (o.RwMixRead is < 0 or > 100)
        {
            throw new UsageException("--rwmixread must be between 0 and 100");
        }

        if (o.Offset < 0)
        {
            throw new UsageException("--offset must not be negative");
        }

        if (o.Direct && (o.BlockSize % 512 != 0 || o.Offset % 512 != 0))
        {
            throw new UsageException(o.BlockSize % 512 != 0
                ? $"--bs {o.BlockSize} is not a multiple of 512, which --direct needs"
                : $"--offset {o.Offset} is not a multiple of 512, which --direct needs");
        }

        if (o.Verify && o.BlockSize % 8 != 0)
        {
            // The pattern is 8-byte words: a tail shorter than a word would hold whatever the file had there.
            throw new UsageException($"--verify needs a --bs that is a multiple of 8 (got {o.BlockSize})");
        }

        if (o.Offset > long.MaxValue - Math.Max(o.Size ?? DefaultScratchSize, o.BlockSize))
        {
            throw new UsageException($"--offset {o.Offset} + --size is past the largest file offset");
        }

        if (o.Verify && !o.Writes)
        {
            throw new UsageException($"--verify checks what the run writes, and --rw {o.Rw} writes nothing (use write, randwrite, rw or randrw)");
        }
    }

    /// <summary>
    /// .NET's RandomAccess on the thread pool has no loop for these to configure; silently ignored, they would make a
    /// run look tuned that was not. --cpus-allowed still pins the fio and C loop rows of --compare.
    /// </summary>
    private static void RefuseLoopOptionsWithoutLoops(BenchOptions o, bool compare)
    {
        if (o.Engine != "randomaccess")
        {
            return;
        }

        var loopOnly = new List<string>();
        if (o.Monitor is not null)
        {
            loopOnly.Add("--monitor");
        }

        if (o.MaxBatch != 0)
        {
            loopOnly.Add("--max-batch");
        }

        if (o.PollMaxNs is not null)
        {
            loopOnly.Add("--poll-max-ns");
        }

        if (o.CpusAllowed is not null && !compare)
        {
            loopOnly.Add("--cpus-allowed");
        }

        if (loopOnly.Count > 0)
        {
            throw new UsageException($"{string.Join(", ", loopOnly)} configure{(loopOnly.Count == 1 ? "s" : "")} Aio's loops, and --engine randomaccess runs none");
        }
    }

    /// <summary>
    /// The region: --offset into the file, --size long (the rest of the file by default). A region past the end of a
    /// given FILE is refused rather than silently shortened.
    /// </summary>
    private static Region RegionOf(BenchOptions o, string path)
    {
        long length = FileLength(path);
        if (o.Direct)
        {
            // The check before the fill is against 512; the file itself may need more (4096 where statx does not
            // report its direct-I/O alignment), and BlockFile would refuse every request of the run.
            int alignment = DirectAlignment(path);
            if (o.BlockSize % alignment != 0 || o.Offset % alignment != 0)
            {
                throw new UsageException(o.BlockSize % alignment != 0
                    ? $"--bs {o.BlockSize} is not a multiple of {alignment}, the direct-I/O alignment of {path}"
                    : $"--offset {o.Offset} is not a multiple of {alignment}, the direct-I/O alignment of {path}");
            }
        }

        if (o.Offset >= length)
        {
            throw new UsageException($"--offset {Units.FormatSize(o.Offset)} is at or past the end of {path} ({length} bytes)");
        }

        long size = o.Size ?? (length - o.Offset);
        if (size > length - o.Offset)
        {
            throw new UsageException($"--offset + --size ({o.Offset} + {size} bytes) is past the end of {path} ({length} bytes); give a smaller --size, or none for the rest of the file");
        }

        long blocks = size / o.BlockSize;
        if (blocks < 1)
        {
            throw new UsageException($"--bs {o.BlockSize} is larger than the region ({size} bytes)");
        }

        return new Region(o.Offset, blocks, o.BlockSize);
    }

    /// <summary>The length of a file or block device (a block device's FileInfo.Length is 0).</summary>
    internal static long FileLength(string path)
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll, Name = "aio-length" });
        using var file = BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = true, Engine = BlockEngine.Threads });
        return file.Length;
    }

    /// <summary>What <see cref="BlockFile.Alignment"/> asks of offsets and lengths with O_DIRECT on <paramref name="path"/>.</summary>
    private static int DirectAlignment(string path)
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll, Name = "aio-alignment" });
        using var file = BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = true, Direct = true, Engine = BlockEngine.Threads });
        return file.Alignment;
    }

    /// <summary>Without io_uring the io_uring engine cannot run: the threads engine does, with a one-line note.</summary>
    private static BenchOptions FallBackFromIoUring(BenchOptions o)
    {
        if (o.Engine != "io_uring")
        {
            return o;
        }

        if (o.Monitor is FdMonitorKind.Poll or FdMonitorKind.Epoll)
        {
            // Chosen, not missing: the ring is what --monitor turned off.
            Console.Error.WriteLine($"aio: --monitor {o.Monitor.Value.ToString().ToLowerInvariant()} has no ring: using the threads engine");
            return o with { Engine = "threads" };
        }

        string? why = IoUringUnavailable();
        if (why is null)
        {
            return o;
        }

        if (o.Monitor == FdMonitorKind.IoUring)
        {
            // Asked for by name: the loops' contexts would throw (an explicit monitor is that or nothing).
            throw new UsageException($"--monitor io_uring: io_uring is unavailable ({why})");
        }

        Console.Error.WriteLine($"aio: io_uring is unavailable ({why}): using the threads engine");
        return o with { Engine = "threads" };
    }

    private static string? IoUringUnavailable()
    {
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "aio-probe" });
            return null;
        }
        catch (AioException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// The comparison rows. Each runs on its own: one that cannot run (fio or the C loop failing, as both do where
    /// io_uring is refused) becomes a one-line note saying why, and the rows measured before and after it still print.
    /// </summary>
    private static void Compare(BenchOptions o, string path, Region region, List<BenchResult> results, CancellationToken ct)
    {
        if (o.Engine != "randomaccess" && !ct.IsCancellationRequested)
        {
            var ra = o with { Engine = "randomaccess" };
            Row(o, results, "randomaccess", () => Live(ra, "randomaccess", ra, p => BenchRunner.Run(ra, path, region, p, ct)), ct);
        }

        if (!FioRunner.Available)
        {
            Note(o, "fio is not installed (apt-get install fio): no fio row");
        }
        else if (!ct.IsCancellationRequested)
        {
            Row(o, results, "fio", () => Live(o, "fio", null, _ => FioRunner.Run(o, path, region, "io_uring", ct)), ct);
        }

        if (UringRandreadRunner.Path is null)
        {
            return;
        }

        if (UringRandreadRunner.CannotRun(o, path, region) is { } why)
        {
            Note(o, $"no uring_randread row: {why}");
        }
        else if (!ct.IsCancellationRequested)
        {
            Row(o, results, "uring_randread", () => Live(o, "uring_randread", null, _ => UringRandreadRunner.Run(o, path, ct)), ct);
        }
    }

    /// <summary>Adds the row <paramref name="run"/> measures, or, if it fails, prints which row is missing and why.</summary>
    private static void Row(BenchOptions o, List<BenchResult> results, string name, Func<BenchResult> run, CancellationToken ct)
    {
        string why;
        try
        {
            results.Add(run());
            return;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl-C or SIGTERM while it ran: the rows measured so far print, marked interrupted.
            why = "interrupted";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
        {
            why = ex.Message.ReplaceLineEndings(" ");
        }

        // Not a fatal error, so stderr in every mode: with --json, stdout stays the one JSON object.
        string note = $"aio: no {name} row: {why}";
        if (o.Json)
        {
            Console.Error.WriteLine(note);
        }
        else
        {
            Output.Line(note);
        }
    }

    private static void Note(BenchOptions o, string text)
    {
        if (!o.Json)
        {
            Output.Line(text);
        }
    }

    /// <summary>Runs one engine, with the live status line when stderr is a terminal.</summary>
    /// <remarks><paramref name="counted"/>: the options of an engine of ours, whose requests the line counts; null for an external tool.</remarks>
    private static BenchResult Live(BenchOptions o, string engine, BenchOptions? counted, Func<Progress, BenchResult?> run)
    {
        var progress = new Progress(counted is null ? 1 : BenchRunner.ProgressWriters(counted));
        using (StatusLine.ForRun(engine, counted is null ? null : progress, o.BlockSize, o.RampTime, o.RampTime + o.Runtime))
        {
            return run(progress) ?? throw new InvalidOperationException($"{engine} produced no result");
        }
    }
}
