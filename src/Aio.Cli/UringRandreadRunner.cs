using System.Globalization;

namespace Aio.Cli;

/// <summary>
/// The C loop row of <c>aio bench --compare</c>: <c>uring_randread</c>, when on PATH, is one thread doing 4 KiB-style
/// random O_DIRECT reads with liburing and nothing else (the ceiling for one loop). Invoked as
/// <c>uring_randread [-r RAMP] -d IODEPTH -b BS -t SECONDS -f 2 FILE</c> (-f 2: the ring flags Aio uses, SINGLE_ISSUER
/// and DEFER_TASKRUN; -r with <c>--ramp-time</c>, rounded up to whole seconds); it prints <c>iops N</c> and its CPU time
/// over the measured part (<c>cpu_user_s</c>, <c>cpu_sys_s</c>; a build without them leaves the CPU columns empty).
/// It reports no latency.
/// </summary>
internal static class UringRandreadRunner
{
    public static string? Path => ToolPath.Find("uring_randread");

    /// <summary>Why the C loop cannot run this workload (it only reads randomly, directly, on one thread, the whole file), or null.</summary>
    public static string? CannotRun(BenchOptions o, string path, Region region)
    {
        if (o.Rw != "randread" || !o.Direct)
        {
            return "it only does --rw randread --direct";
        }

        if (o.Threads != 1)
        {
            return "it is one thread (--threads 1)";
        }

        if (region.Offset != 0 || region.Blocks != Bench.FileLength(path) / o.BlockSize)
        {
            return "it reads the whole file (no --offset/--size region)";
        }

        return null;
    }

    public static BenchResult Run(BenchOptions o, string path, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        int seconds = Math.Max(1, (int)Math.Ceiling(o.Runtime.TotalSeconds));
        int ramp = (int)Math.Ceiling(o.RampTime.TotalSeconds);
        string[] args = ["-d", o.IoDepth.ToString(inv), "-b", o.BlockSize.ToString(inv), "-t", seconds.ToString(inv), "-f", "2", path];
        if (ramp > 0)
        {
            // The same unmeasured warm-up as the loop's (bench/uring-probe's -r; fio's ramp_time).
            args = ["-r", ramp.ToString(inv), .. args];
        }

        string program = Path!;
        if (o.CpusAllowed is { } cpus)
        {
            // Pinned from its first instruction, like the loop thread (util-linux's taskset is on every Debian).
            args = ["-c", cpus.Text, program, .. args];
            program = ToolPath.Find("taskset") ?? throw new InvalidOperationException("--cpus-allowed needs taskset (util-linux) for the C loop row");
        }

        string output = ToolPath.Run(
            program,
            args,
            TimeSpan.FromSeconds(ramp + seconds + 60),
            ct);
        double iops = Value(output, "iops");
        if (double.IsNaN(iops))
        {
            throw new InvalidOperationException($"uring_randread printed no 'iops N' line: {output.Trim()}");
        }

        return new BenchResult("uring_randread", (long)Math.Round(iops * seconds), seconds, null, Value(output, "cpu_user_s"), Value(output, "cpu_sys_s"), double.NaN, o.BlockSize) { Reads = (long)Math.Round(iops * seconds) };
    }

    /// <summary>The number on the <c>NAME N</c> line of the output, or NaN without one.</summary>
    private static double Value(string output, string name)
    {
        var line = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return line is not null && double.TryParse(line.AsSpan(name.Length + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : double.NaN;
    }
}
