using System.Diagnostics;
using System.Text.Json;
using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Cli;

/// <summary>aio bench --compare: rows measured alike, and the external rows where their tools are installed.</summary>
public class CliCompareTests
{
    private readonly ITestOutputHelper _output;

    public CliCompareTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Every_compare_row_agrees_with_Littles_law()
    {
        // A consistency check, not a timing assertion: with iodepth requests always pending, IOPS x mean latency is
        // iodepth whatever the speed, if each row's clock runs from submission to completion. A clock that starts
        // after a queue (the randomaccess row's did) gives a fraction of it.
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", "--size", "16m", "--runtime", "1s", "--iodepth", "16", "--compare", "--json");
        _output.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("results").EnumerateArray().Where(r => r.GetProperty("lat_mean_us").ValueKind == JsonValueKind.Number).ToList();
        Assert.Contains(rows, r => r.GetProperty("engine").GetString() == "randomaccess");
        foreach (var r in rows)
        {
            double inFlight = r.GetProperty("iops").GetDouble() * r.GetProperty("lat_mean_us").GetDouble() / 1e6;
            Assert.True(inFlight is > 16 * 0.6 and < 16 * 1.3, $"{r.GetProperty("engine").GetString()}: IOPS x mean latency = {inFlight:0.0}, iodepth 16");
        }
    }

    [Fact]
    public void Compare_has_a_uring_randread_row_exactly_when_the_C_loop_is_on_PATH()
    {
        using var dir = new TempDir();
        string? source = UringRandreadSource();
        string? binary = source is not null && CanBuildWithLiburing() ? Build(source, dir.Path) : null;
        _output.WriteLine(binary is null ? $"no uring_randread built (source: {source ?? "none"}): the row must be absent" : $"built {binary}");

        string? path = null;
        if (binary is not null)
        {
            path = Path.GetDirectoryName(binary) + ":" + Environment.GetEnvironmentVariable("PATH");
        }
        else
        {
            // A PATH without any uring_randread, so the row is absent whatever the machine has installed.
            path = string.Join(':', (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Where(d => !File.Exists(Path.Combine(d, "uring_randread"))));
        }

        using var work = new TempDir();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = work.Path };
        psi.Environment["PATH"] = path;
        foreach (var a in new[] { AioCli.Dll, "bench", "--size", "16m", "--runtime", "1s", "--ramp-time", "1s", "--compare", "--json" })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = Task.Run(p.StandardOutput.ReadToEnd);
        var stderr = Task.Run(p.StandardError.ReadToEnd);
        if (!p.WaitForExit(AioCli.Timeout))
        {
            // With fio and the C loop it started: nothing of a failed run may keep running.
            p.Kill(entireProcessTree: true);
            Assert.Fail("aio bench --compare did not finish");
        }

        _output.WriteLine(stdout.Result + stderr.Result);
        Assert.Equal(0, p.ExitCode);
        using var doc = JsonDocument.Parse(stdout.Result);
        var row = doc.RootElement.GetProperty("results").EnumerateArray().Where(r => r.GetProperty("engine").GetString() == "uring_randread").ToList();
        if (binary is null)
        {
            Assert.Empty(row);
            return;
        }

        var c = Assert.Single(row);
        Assert.True(c.GetProperty("iops").GetDouble() > 0, "no IOPS from the C loop");
        Assert.Equal(JsonValueKind.Null, c.GetProperty("lat_mean_us").ValueKind);

        // Its CPU time over the measured second, as the other rows have theirs (numbers, not the nulls of a row that
        // measures none). Either part alone may round to 0 with tick-based accounting; together they cannot.
        double user = c.GetProperty("cpu_user_s").GetDouble(), sys = c.GetProperty("cpu_sys_s").GetDouble();
        Assert.True(user >= 0 && sys >= 0 && user + sys > 0, $"the C loop's CPU time: user {user} s, sys {sys} s");
        Assert.Empty(Directory.GetFiles(work.Path));
    }

    [StraceFact]
    public void Compare_rows_that_cannot_run_without_io_uring_become_one_line_notes_and_the_measured_rows_still_print()
    {
        // io_uring refused to the whole process tree: our row falls back to the threads engine, and fio's io_uring
        // engine and the C loop (both on PATH here when the machine has them) cannot run. Each such row must become a
        // note with the tool's own reason, not abort the command and lose the rows already measured.
        using var dir = new TempDir();
        var (file, _) = dir.CreateFile("disk", 4 << 20);
        string? source = UringRandreadSource();
        string? cloop = source is not null && CanBuildWithLiburing() ? Build(source, dir.Path) : null;
        string path = (cloop is null ? "" : dir.Path + ":") + Environment.GetEnvironmentVariable("PATH");
        bool fio = path.Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "fio")));
        _output.WriteLine($"anchors: fio {(fio ? "on PATH" : "absent")}, uring_randread {cloop ?? "absent"}");

        var env = new Dictionary<string, string> { ["PATH"] = path };
        var (code, stdout, stderr, injected) = AioCli.RunUnderStrace(dir.Path, ["io_uring_setup:error=EPERM"], env, "bench", file, "--compare", "--runtime", "300ms", "--json");
        _output.WriteLine(stdout + stderr);
        Assert.NotEmpty(injected);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.DoesNotContain("   at ", stdout + stderr);
        using var doc = JsonDocument.Parse(stdout);
        var engines = doc.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("engine").GetString()!).ToArray();
        Assert.Equal(["threads", "randomaccess"], engines);
        Assert.All(doc.RootElement.GetProperty("results").EnumerateArray(), r => Assert.True(r.GetProperty("ios").GetInt64() > 0));

        var lines = stderr.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var (anchor, present) in new[] { ("fio", fio), ("uring_randread", cloop is not null) })
        {
            var notes = lines.Where(l => l.StartsWith($"aio: no {anchor} row: ", StringComparison.Ordinal)).ToArray();
            if (!present)
            {
                Assert.Empty(notes);
                continue;
            }

            // The tool's own words: fio prints its job error on stdout, the C loop on stderr; both say EPERM's text.
            var note = Assert.Single(notes);
            Assert.Contains("Operation not permitted", note);
        }

        Assert.Equal([file], Directory.GetFiles(dir.Path).Where(f => f != cloop).ToArray());
    }

    /// <summary>The C loop's source: the project's own probe, bench/uring-probe/uring_randread.c.</summary>
    private static string? UringRandreadSource()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(d.FullName, "bench", "uring-probe", "uring_randread.c") })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static bool CanBuildWithLiburing()
        => File.Exists("/usr/include/liburing.h") && (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, "gcc")));

    private static string Build(string source, string dir)
    {
        string output = Path.Combine(dir, "uring_randread");
        var psi = new ProcessStartInfo("gcc") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-O2", "-o", output, source, "-luring" })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = Task.Run(p.StandardError.ReadToEnd);
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("gcc did not finish");
        }

        Assert.True(p.ExitCode == 0, "gcc failed: " + err.Result);
        return output;
    }
}
