using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Aio.Cli;

/// <summary>Tables on a terminal (Spectre.Console), plain lines otherwise, one JSON object with --json.</summary>
internal static class Output
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static bool Fancy => !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    public static void Bench(BenchOptions o, Region region, IReadOnlyList<BenchResult> results, bool interrupted)
    {
        if (o.Json)
        {
            Console.WriteLine(BenchJson(o, region, results, interrupted));
            return;
        }

        // The runtime measured, not the one asked for: after Ctrl-C they differ.
        var inv = s_inv;
        var header = new StringBuilder();
        header.Append(inv, $"{o.Rw}");
        if (o.IsMixed)
        {
            header.Append(inv, $" rwmixread={o.RwMixRead}");
        }

        header.Append(inv, $" bs={Units.FormatSize(o.BlockSize)} iodepth={o.IoDepth} threads={o.Threads} direct={(o.Direct ? 1 : 0)}");
        header.Append(inv, $" offset={Units.FormatSize(region.Offset)} size={Units.FormatSize(region.Bytes)}");
        if (o.CpusAllowed is { } cpus)
        {
            header.Append(inv, $" cpus_allowed={cpus.Text}");
        }

        if (o.RampTime > TimeSpan.Zero)
        {
            header.Append(inv, $" ramp={o.RampTime.TotalSeconds:0.##}s");
        }

        header.Append(inv, $" runtime={results[0].Seconds:0.##}s");
        if (interrupted)
        {
            header.Append(inv, $" (interrupted; asked for {o.Runtime.TotalSeconds:0.##}s)");
        }

        if (Fancy)
        {
            var table = new Table().Title(Markup.Escape(header.ToString()));
            foreach (var c in new[] { "engine", "IOPS", "MB/s", "mean us", "p50 us", "p99 us", "p99.9 us", "CPU user s/1k IO", "CPU sys s/1k IO", "alloc B/IO" })
            {
                table.AddColumn(new TableColumn(c).RightAligned());
            }

            foreach (var r in results)
            {
                table.AddRow(Cells(r).Select(x => Markup.Escape(x)).ToArray());
            }

            AnsiConsole.Write(table);
        }
        else
        {
            Console.WriteLine(header);
            Console.WriteLine("engine            IOPS      MB/s   mean_us    p50_us    p99_us  p99.9_us  user_s/1kIO  sys_s/1kIO  alloc_B/IO");
            foreach (var r in results)
            {
                var c = Cells(r);
                Console.WriteLine($"{c[0],-14} {c[1],8} {c[2],9} {c[3],9} {c[4],9} {c[5],9} {c[6],9} {c[7],12} {c[8],11} {c[9],11}");
            }
        }

        // fio's per-job latency block: min/max/avg/stdev, then the percentile list.
        foreach (var r in results)
        {
            if (r.Latency is { } l)
            {
                Console.WriteLine(string.Create(inv, $"{r.Engine}: lat (us): min={l.Min:0.0}, max={l.Max:0.0}, avg={l.Mean:0.0}, stdev={l.Stdev:0.0}"));
                Console.WriteLine($"{r.Engine}: lat percentiles (us): " + string.Join(", ", LatencyStats.Percentiles.Select((p, i) => string.Create(inv, $"{p:0.00}th=[{l.Values[i]:0.0}]"))));
            }

            if (o.IsMixed && r.Latency is not null)
            {
                Console.WriteLine(string.Create(inv, $"{r.Engine}: reads {r.Reads}, writes {r.Ios - r.Reads}"));
            }

            if (r.Loop is { } loop && r.Ios > 0)
            {
                double perKio = 1000.0 / r.Ios;
                Console.WriteLine(string.Create(inv, $"{r.Engine}: loop per 1k IOs: {loop.RingEnters * perKio:0.0} ring enters, {loop.BlockingWaits * perKio:0.0} sleeps, {loop.PollSuccesses * perKio:0.0} polls that found work, {loop.PollFailures * perKio:0.0} that did not"));
            }

            if (r.Verify is var (checkedBlocks, bad))
            {
                Console.WriteLine($"{r.Engine}: verify: {checkedBlocks} blocks read back, {bad} mismatches");
            }
        }
    }

    public static string BenchJson(BenchOptions o, Region region, IReadOnlyList<BenchResult> results, bool interrupted)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            // The first result's figures at the top level (the one engine asked for); every engine under "results".
            w.WriteStartObject();
            WriteResult(w, results[0]);
            w.WriteString("rw", o.Rw);
            w.WriteNumber("rwmixread", o.ReadPercent);
            w.WriteNumber("bs", o.BlockSize);
            w.WriteNumber("iodepth", o.IoDepth);
            w.WriteNumber("threads", o.Threads);
            w.WriteBoolean("direct", o.Direct);
            w.WriteNumber("offset", region.Offset);
            w.WriteNumber("size", region.Bytes);
            w.WriteNumber("ramp_time_s", o.RampTime.TotalSeconds);
            w.WriteNumber("runtime_asked_s", o.Runtime.TotalSeconds);
            w.WriteBoolean("interrupted", interrupted);
            w.WriteStartArray("results");
            foreach (var r in results)
            {
                w.WriteStartObject();
                WriteResult(w, r);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static void Line(string text)
    {
        if (Fancy)
        {
            AnsiConsole.MarkupLine("[grey]" + Markup.Escape(text) + "[/]");
        }
        else
        {
            Console.Error.WriteLine(text);
        }
    }

    private static void WriteResult(Utf8JsonWriter w, BenchResult r)
    {
        w.WriteString("engine", r.Engine);
        w.WriteNumber("ios", r.Ios);
        w.WriteNumber("reads", r.Reads);
        w.WriteNumber("writes", r.Ios - r.Reads);
        w.WriteNumber("runtime_s", Math.Round(r.Seconds, 3));
        w.WriteNumber("iops", Math.Round(r.Iops, 1));
        w.WriteNumber("mbps", Math.Round(r.MBps, 2));
        var l = r.Latency;
        Number(w, "lat_min_us", l?.Min, 2);
        Number(w, "lat_mean_us", l?.Mean, 2);
        Number(w, "lat_max_us", l?.Max, 2);
        Number(w, "lat_stdev_us", l?.Stdev, 2);
        Number(w, "lat_p50_us", l?.At(50), 2);
        Number(w, "lat_p99_us", l?.At(99), 2);
        Number(w, "lat_p999_us", l?.At(99.9), 2);
        if (l is null)
        {
            w.WriteNull("lat_percentiles_us");
        }
        else
        {
            w.WriteStartObject("lat_percentiles_us");
            for (int i = 0; i < LatencyStats.Percentiles.Length; i++)
            {
                w.WriteNumber(LatencyStats.Percentiles[i].ToString(s_inv), Math.Round(l.Values[i], 2));
            }

            w.WriteEndObject();
        }

        // The external tools: no managed allocations to count (the C loop reports its CPU; fio its own).
        Number(w, "cpu_user_s", r.CpuUserS, 3);
        Number(w, "cpu_sys_s", r.CpuSysS, 3);
        Number(w, "allocs_per_io", r.AllocsPerIo, 2);
        if (r.Loop is { } loop)
        {
            // The loops' counters over the measured part, summed: kernel entries, sleeps, and what polling found.
            w.WriteStartObject("loop");
            w.WriteNumber("iterations", loop.Iterations);
            w.WriteNumber("blocking_waits", loop.BlockingWaits);
            w.WriteNumber("ring_enters", loop.RingEnters);
            w.WriteNumber("poll_successes", loop.PollSuccesses);
            w.WriteNumber("poll_failures", loop.PollFailures);
            w.WriteEndObject();
        }

        if (r.Verify is var (checkedBlocks, bad))
        {
            w.WriteStartObject("verify");
            w.WriteNumber("checked", checkedBlocks);
            w.WriteNumber("mismatches", bad);
            w.WriteEndObject();
        }
    }

    private static void Number(Utf8JsonWriter w, string name, double? value, int digits)
    {
        if (value is { } v && !double.IsNaN(v))
        {
            w.WriteNumber(name, Math.Round(v, digits));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static string[] Cells(BenchResult r)
    {
        double perK = r.Ios == 0 ? 0 : 1000.0 / r.Ios;
        string Us(double? v) => v is { } x ? x.ToString("0.0", s_inv) : "-";
        string Cpu(double v) => double.IsNaN(v) ? "-" : (v * perK).ToString("0.0000", s_inv);
        return
        [
            r.Engine,
            r.Iops.ToString("0", s_inv),
            r.MBps.ToString("0.0", s_inv),
            Us(r.Latency?.Mean),
            Us(r.Latency?.At(50)),
            Us(r.Latency?.At(99)),
            Us(r.Latency?.At(99.9)),
            Cpu(r.CpuUserS),
            Cpu(r.CpuSysS),
            double.IsNaN(r.AllocsPerIo) ? "-" : r.AllocsPerIo.ToString("0.00", s_inv),
        ];
    }
}
