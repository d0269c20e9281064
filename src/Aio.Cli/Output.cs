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

    public static void Bench(BenchOptions o, IReadOnlyList<BenchResult> results, bool json)
    {
        if (json)
        {
            Console.WriteLine(BenchJson(o, results));
            return;
        }

        var header = $"{o.Rw} bs={Units.FormatSize(o.BlockSize)} iodepth={o.IoDepth} threads={o.Threads} direct={(o.Direct ? 1 : 0)} runtime={o.Runtime.TotalSeconds:0.##}s";
        if (Fancy)
        {
            var table = new Table().Title(header);
            foreach (var c in new[] { "engine", "IOPS", "MB/s", "p50 us", "p99 us", "p99.9 us", "CPU user s/1k IO", "CPU sys s/1k IO", "alloc B/IO" })
            {
                table.AddColumn(new TableColumn(c).RightAligned());
            }

            foreach (var r in results)
            {
                table.AddRow(Cells(r).Select(x => Markup.Escape(x)).ToArray());
            }

            AnsiConsole.Write(table);
            return;
        }

        Console.WriteLine(header);
        Console.WriteLine("engine          IOPS      MB/s    p50_us    p99_us  p99.9_us  user_s/1kIO  sys_s/1kIO  alloc_B/IO");
        foreach (var r in results)
        {
            var c = Cells(r);
            Console.WriteLine($"{c[0],-12} {c[1],8} {c[2],9} {c[3],9} {c[4],9} {c[5],9} {c[6],12} {c[7],11} {c[8],11}");
        }
    }

    public static string BenchJson(BenchOptions o, IReadOnlyList<BenchResult> results)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            // The first result's figures at the top level (the one engine asked for); every engine under "results".
            w.WriteStartObject();
            WriteResult(w, results[0]);
            w.WriteString("rw", o.Rw);
            w.WriteNumber("bs", o.BlockSize);
            w.WriteNumber("iodepth", o.IoDepth);
            w.WriteNumber("threads", o.Threads);
            w.WriteBoolean("direct", o.Direct);
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
        w.WriteNumber("runtime_s", Math.Round(r.Seconds, 3));
        w.WriteNumber("iops", Math.Round(r.Iops, 1));
        w.WriteNumber("mbps", Math.Round(r.MBps, 2));
        w.WriteNumber("lat_p50_us", Math.Round(r.P50Us, 2));
        w.WriteNumber("lat_p99_us", Math.Round(r.P99Us, 2));
        w.WriteNumber("lat_p999_us", Math.Round(r.P999Us, 2));
        w.WriteNumber("cpu_user_s", Math.Round(r.CpuUserS, 3));
        w.WriteNumber("cpu_sys_s", Math.Round(r.CpuSysS, 3));
        if (double.IsNaN(r.AllocsPerIo))
        {
            // fio: no managed allocations to count.
            w.WriteNull("allocs_per_io");
        }
        else
        {
            w.WriteNumber("allocs_per_io", Math.Round(r.AllocsPerIo, 2));
        }
    }

    private static string[] Cells(BenchResult r)
    {
        double perK = r.Ios == 0 ? 0 : 1000.0 / r.Ios;
        return
        [
            r.Engine,
            r.Iops.ToString("0", s_inv),
            r.MBps.ToString("0.0", s_inv),
            r.P50Us.ToString("0.0", s_inv),
            r.P99Us.ToString("0.0", s_inv),
            r.P999Us.ToString("0.0", s_inv),
            (r.CpuUserS * perK).ToString("0.0000", s_inv),
            (r.CpuSysS * perK).ToString("0.0000", s_inv),
            double.IsNaN(r.AllocsPerIo) ? "-" : r.AllocsPerIo.ToString("0.00", s_inv),
        ];
    }
}
