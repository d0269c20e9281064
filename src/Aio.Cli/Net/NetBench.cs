using System.Diagnostics;
using System.Globalization;

namespace Aio.Cli.Net;

/// <summary>
/// <c>aio bench net</c>: the echo server on Aio's loops against the same server on System.Net.Sockets, in interleaved
/// rounds of one run, loaded by a separate process. Reports medians and spread of requests/s (or MiB/s when streaming),
/// latency, and the server's CPU time per request (utime+stime from /proc/PID/stat over the load's lifetime).
/// </summary>
internal static class NetBench
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static int Run(NetBenchOptions o)
    {
        var workloads = o.Sizes.Select(s => (Size: s, Connections: o.Connections)).ToList();
        if (o.StreamSize > 0)
        {
            workloads.Add((o.StreamSize, 1));
        }

        string[] servers = ["aio", "sockets"];
        var samples = new List<Sample>();
        for (int round = 0; round < o.Rounds; round++)
        {
            // Alternate the order so that neither server always runs on a warmer (or hotter) machine.
            var order = round % 2 == 0 ? servers : servers.Reverse().ToArray();
            foreach (var server in order)
            {
                using var process = StartSelf("bench", "net-server", "--server", server, "--loops", o.Loops.ToString(s_inv));
                string? ready = process.StandardOutput.ReadLine();
                if (ready is null || !ready.StartsWith("ready ", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"the {server} server did not start: {process.StandardError.ReadToEnd()}");
                }

                int port = int.Parse(ready.AsSpan(6), s_inv);
                foreach (var (size, connections) in workloads)
                {
                    long cpuBefore = CpuTicks(process.Id);
                    using var load = StartSelf("bench", "net-load", "--port", port.ToString(s_inv), "--connections", connections.ToString(s_inv),
                        "--size", size.ToString(s_inv), "--warmup", o.Warmup.TotalSeconds.ToString(s_inv) + "s", "--runtime", o.Runtime.TotalSeconds.ToString(s_inv) + "s");
                    string line = load.StandardOutput.ReadToEnd().Trim();
                    load.WaitForExit();
                    long cpuAfter = CpuTicks(process.Id);
                    if (load.ExitCode != 0)
                    {
                        throw new InvalidOperationException($"the load generator failed against {server}: {load.StandardError.ReadToEnd()}");
                    }

                    var f = line.Split(' ');
                    double seconds = double.Parse(f[2], s_inv);
                    double cpuSeconds = (cpuAfter - cpuBefore) / (double)ClockTicksPerSecond;
                    double lifetime = seconds + o.Warmup.TotalSeconds;
                    samples.Add(new Sample(server, size, connections, long.Parse(f[0], s_inv) / seconds, long.Parse(f[1], s_inv) / seconds,
                        double.Parse(f[3], s_inv), double.Parse(f[4], s_inv), cpuSeconds * (seconds / lifetime)));
                }

                process.StandardInput.Close();
                process.WaitForExit(10_000);
            }
        }

        Print(o, samples, servers, workloads);
        return 0;
    }

    private static void Print(NetBenchOptions o, List<Sample> samples, string[] servers, List<(int Size, int Connections)> workloads)
    {
        Console.WriteLine($"echo over TCP loopback: {o.Rounds} interleaved rounds of {o.Runtime.TotalSeconds:0.#} s (after {o.Warmup.TotalSeconds:0.#} s warm-up), server loops={o.Loops}, medians [min-max]");
        Console.WriteLine("workload              server      req/s or MiB/s [spread]          p50_us    p99_us   cpu_us/req (or /MiB)");
        foreach (var (size, connections) in workloads)
        {
            bool streaming = size >= EchoLoad.StreamThreshold;
            string name = streaming ? $"stream {Units.FormatSize(size)} writes" : $"echo {Units.FormatSize(size)} x{connections}";
            foreach (var server in servers)
            {
                var mine = samples.Where(s => s.Server == server && s.Size == size && s.Connections == connections).ToList();
                var rate = mine.Select(s => streaming ? s.BytesPerSecond * 2 / (1 << 20) : s.RequestsPerSecond).Order().ToList();
                var cpu = mine.Select(s => streaming ? s.CpuSeconds * 1e6 / (s.BytesPerSecond * 2 * o.Runtime.TotalSeconds / (1 << 20)) : s.CpuSeconds * 1e6 / (s.RequestsPerSecond * o.Runtime.TotalSeconds)).Order().ToList();
                string spread = $"{Median(rate),10:0} [{rate[0]:0}-{rate[^1]:0}]";
                Console.WriteLine($"{name,-21} {server,-8} {spread,-32} {Median(mine.Select(s => s.P50Us).Order().ToList()),8:0.0} {Median(mine.Select(s => s.P99Us).Order().ToList()),9:0.0} {Median(cpu),12:0.00}");
            }
        }
    }

    private static double Median(List<double> sorted) => sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;

    /// <summary>Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux).</summary>
    private const int ClockTicksPerSecond = 100;

    private static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // After the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        return long.Parse(fields[11], s_inv) + long.Parse(fields[12], s_inv);
    }

    private static Process StartSelf(params string[] args)
    {
        string host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(NetBench).Assembly.Location);
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    private sealed record Sample(string Server, int Size, int Connections, double RequestsPerSecond, double BytesPerSecond, double P50Us, double P99Us, double CpuSeconds);
}
