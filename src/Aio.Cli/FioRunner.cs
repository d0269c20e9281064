using System.Globalization;
using System.Text.Json;

namespace Aio.Cli;

/// <summary>Runs fio with the same workload on the same file region, for <c>aio bench --compare</c>.</summary>
internal static class FioRunner
{
    public static bool Available => ToolPath.Find("fio") is not null;

    public static BenchResult? Run(BenchOptions o, string path, Region region, string ioengine, CancellationToken ct)
    {
        string? fio = ToolPath.Find("fio");
        if (fio is null)
        {
            return null;
        }

        var inv = CultureInfo.InvariantCulture;
        var args = new List<string>
        {
            "--name=aio-compare", $"--filename={path.Replace(":", "\\:", StringComparison.Ordinal)}", $"--ioengine={ioengine}", $"--direct={(o.Direct ? 1 : 0)}",
            $"--rw={o.Rw}", $"--rwmixread={o.RwMixRead}", $"--bs={o.BlockSize}", $"--iodepth={o.IoDepth}", $"--numjobs={o.Threads}",
            $"--offset={region.Offset}", $"--size={region.Bytes}", "--group_reporting",
            $"--runtime={Math.Max(1, (int)Math.Ceiling(o.Runtime.TotalSeconds))}", "--time_based", "--output-format=json",
        };
        if (o.CpusAllowed is { } cpus)
        {
            args.Add($"--cpus_allowed={cpus.Text}");
        }

        if (o.RampTime > TimeSpan.Zero)
        {
            args.Add($"--ramp_time={((int)Math.Ceiling(o.RampTime.TotalSeconds)).ToString(inv)}");
        }

        string json = ToolPath.Run(fio, args, o.RampTime + o.Runtime + TimeSpan.FromSeconds(60), ct);
        int start = json.IndexOf('{', StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json[start..]);
        var job = doc.RootElement.GetProperty("jobs")[0];
        var read = job.GetProperty("read");
        var write = job.GetProperty("write");
        long reads = read.GetProperty("total_ios").GetInt64();
        long writes = write.GetProperty("total_ios").GetInt64();

        // fio reports each direction apart; the row shows the busier one's latency (both, for a 50/50 mix, are alike).
        var side = reads >= writes ? read : write;
        double runtime = side.GetProperty("runtime").GetDouble() / 1000.0;

        var (usr, sys) = CpuSeconds(job, runtime);
        return new BenchResult("fio-" + ioengine, reads + writes, runtime, Latency(side), usr, sys, double.NaN, o.BlockSize) { Reads = reads };
    }

    /// <summary>
    /// The user and system CPU seconds of all of a group-reported job's threads. With group_reporting, usr_cpu and
    /// sys_cpu are percentages of the jobs' summed run time (fio gives the sum as job_runtime, in ms), not of one job's
    /// runtime: four jobs at 25 % for 10 s used 10 s of CPU, not 2.5. Without job_runtime (older fio), one job's
    /// <paramref name="runtime"/>.
    /// </summary>
    internal static (double User, double System) CpuSeconds(JsonElement job, double runtime)
    {
        double jobsRuntime = job.TryGetProperty("job_runtime", out var summed) ? summed.GetDouble() / 1000.0 : runtime;
        return (job.GetProperty("usr_cpu").GetDouble() / 100.0 * jobsRuntime, job.GetProperty("sys_cpu").GetDouble() / 100.0 * jobsRuntime);
    }

    /// <summary>
    /// fio's total latency (lat_ns: submission to completion, as ours) for min/mean/max/stdev; its percentiles exist
    /// only for the completion latency (clat_ns), which leaves out the submission, a few hundred nanoseconds.
    /// </summary>
    private static LatencyStats Latency(JsonElement side)
    {
        var lat = side.GetProperty("lat_ns");
        var pct = side.GetProperty("clat_ns").TryGetProperty("percentile", out var p) ? p : default;
        double At(double percentile)
            => pct.ValueKind == JsonValueKind.Object && pct.TryGetProperty(percentile.ToString("0.000000", CultureInfo.InvariantCulture), out var v) ? v.GetDouble() / 1000.0 : 0;
        return new LatencyStats(
            lat.GetProperty("min").GetDouble() / 1000.0,
            lat.GetProperty("mean").GetDouble() / 1000.0,
            lat.GetProperty("max").GetDouble() / 1000.0,
            lat.GetProperty("stddev").GetDouble() / 1000.0,
            LatencyStats.Percentiles.Select(At).ToArray());
    }
}
