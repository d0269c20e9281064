using System.Diagnostics;
using System.Text.Json;

namespace Aio.Cli;

/// <summary>Runs fio with the same workload on the same file, for <c>aio bench --compare</c>.</summary>
internal static class FioRunner
{
    public static bool Available => FindOnPath("fio") is not null;

    public static BenchResult? Run(BenchOptions o, string path, string ioengine)
    {
        string? fio = FindOnPath("fio");
        if (fio is null)
        {
            return null;
        }

        var psi = new ProcessStartInfo(fio)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name=aio-compare", $"--filename={path}", $"--ioengine={ioengine}", $"--direct={(o.Direct ? 1 : 0)}",
            $"--rw={o.Rw}", $"--bs={o.BlockSize}", $"--iodepth={o.IoDepth}", $"--numjobs={o.Threads}", "--group_reporting",
            $"--runtime={Math.Max(1, (int)Math.Ceiling(o.Runtime.TotalSeconds))}", "--time_based", "--output-format=json",
        })
        {
            psi.ArgumentList.Add(arg);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(o.Runtime + TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("fio did not finish");
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"fio failed (exit {p.ExitCode}): {stderr.Result.Trim()}");
        }

        string json = stdout.Result;
        int start = json.IndexOf('{', StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json[start..]);
        var job = doc.RootElement.GetProperty("jobs")[0];
        var side = job.GetProperty(o.IsWrite ? "write" : "read");
        long ios = side.GetProperty("total_ios").GetInt64();
        double runtime = side.GetProperty("runtime").GetDouble() / 1000.0;
        var pct = side.GetProperty("clat_ns").TryGetProperty("percentile", out var p1) ? p1 : default;
        double Pct(string key) => pct.ValueKind == JsonValueKind.Object && pct.TryGetProperty(key, out var v) ? v.GetDouble() / 1000.0 : 0;
        double usr = job.GetProperty("usr_cpu").GetDouble() / 100.0 * runtime;
        double sys = job.GetProperty("sys_cpu").GetDouble() / 100.0 * runtime;
        return new BenchResult("fio-" + ioengine, ios, runtime, Pct("50.000000"), Pct("99.000000"), Pct("99.900000"), usr, sys, double.NaN, o.BlockSize);
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
