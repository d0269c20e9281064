using System.Text.Json;
using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Cli;

/// <summary>aio bench speaks fio's vocabulary: mixes, ramp, regions, verify, numjobs, latency statistics.</summary>
public class CliFioTests
{
    private readonly ITestOutputHelper _output;

    public CliFioTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Randrw_mixes_reads_and_writes_in_the_rwmixread_ratio()
    {
        using var dir = new TempDir();

        // Through the page cache: the mix is what is checked, not the disk. O_DIRECT requests wait for the disk (and
        // for the write-back of pages still dirty), and behind a busy disk and CPU (the suite beside two CPU hogs) the
        // 400 ms held as few as 8 requests.
        var (path, _) = dir.CreateDurableFile("disk", 4 << 20);
        using var r = Json(dir, "bench", path, "--rw", "randrw", "--rwmixread", "70", "--runtime", "400ms", "--iodepth", "8", "--direct", "false");
        long ios = r.RootElement.GetProperty("ios").GetInt64();
        long reads = r.RootElement.GetProperty("reads").GetInt64();

        // Enough requests for the share to mean something (the mix is drawn from a fixed seed: from 56 requests on,
        // every prefix of it lies within the band below).
        Assert.True(ios > 100, $"only {ios} requests");
        Assert.Equal(ios - reads, r.RootElement.GetProperty("writes").GetInt64());
        double share = (double)reads / ios;
        Assert.True(share is > 0.6 and < 0.8, $"{share:P1} reads, asked for 70 %");
    }

    [Fact]
    public void Ramp_time_runs_before_the_measured_runtime()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 4 << 20);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var r = Json(dir, "bench", path, "--ramp-time", "3s", "--runtime", "300ms");
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(3300), $"the whole run took {sw.Elapsed.TotalMilliseconds:0} ms: no ramp");
        double measured = r.RootElement.GetProperty("runtime_s").GetDouble();
        // Far under the 3.3 s a measured ramp would add up to (a loaded machine may stretch the stop, not by seconds).
        Assert.True(measured is >= 0.29 and < 2, $"measured {measured} s, asked for 0.3 s after a 3 s ramp");
        Assert.Equal(3, r.RootElement.GetProperty("ramp_time_s").GetDouble(), 3);
    }

    [Fact]
    public void Offset_and_size_confine_the_writes_to_the_region()
    {
        using var dir = new TempDir();
        var (path, before) = dir.CreateFile("disk", 4 << 20);
        using var r = Json(dir, "bench", path, "--rw", "randwrite", "--offset", "1m", "--size", "1m", "--runtime", "300ms", "--iodepth", "8");
        Assert.Equal(1 << 20, r.RootElement.GetProperty("offset").GetInt64());
        var after = File.ReadAllBytes(path);
        Assert.True(before.AsSpan(0, 1 << 20).SequenceEqual(after.AsSpan(0, 1 << 20)), "a write landed before the region");
        Assert.True(before.AsSpan(2 << 20).SequenceEqual(after.AsSpan(2 << 20)), "a write landed after the region");
        Assert.False(before.AsSpan(1 << 20, 1 << 20).SequenceEqual(after.AsSpan(1 << 20, 1 << 20)), "nothing was written in the region");
    }

    [Theory]
    [InlineData("io_uring")]
    [InlineData("threads")]
    [InlineData("randomaccess")]
    public void Verify_reads_back_every_block_written_and_finds_them_intact(string engine)
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 2 << 20);
        using var r = Json(dir, "bench", path, "--rw", "randrw", "--verify", "--engine", engine, "--runtime", "300ms", "--iodepth", "4");
        var verify = r.RootElement.GetProperty("verify");
        Assert.True(verify.GetProperty("checked").GetInt64() > 0, "no block was read back");
        Assert.Equal(0, verify.GetProperty("mismatches").GetInt64());
    }

    [StraceFact]
    public void Verify_reports_writes_that_never_reached_the_file_and_fails()
    {
        // strace makes every pwrite64 "succeed" without writing: the blocks keep their old content.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 1 << 20);
        var (code, stdout, stderr, injected) = AioCli.RunUnderStrace(dir.Path, ["pwrite64:retval=4096"], "bench", path, "--rw", "randwrite", "--verify", "--engine", "threads", "--runtime", "300ms", "--iodepth", "4", "--json");
        _output.WriteLine(stdout + stderr);
        Assert.NotEmpty(injected);
        Assert.Equal(3, code);
        using var doc = JsonDocument.Parse(stdout);
        var verify = doc.RootElement.GetProperty("verify");
        Assert.True(verify.GetProperty("mismatches").GetInt64() > 0);
        Assert.Equal(verify.GetProperty("checked").GetInt64(), verify.GetProperty("mismatches").GetInt64());
        Assert.Contains("aio: verify failed", stderr);
    }

    [Fact]
    public void Verify_on_a_workload_that_writes_nothing_is_refused()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = AioCli.Run(dir.Path, "bench", "--verify", "--rw", "randread", "--size", "1m");
        Assert.Equal(2, code);
        Assert.Contains("--verify", stderr);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Numjobs_is_an_alias_of_threads()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 2 << 20);
        using var r = Json(dir, "bench", path, "--numjobs", "2", "--iodepth", "2", "--runtime", "200ms");
        Assert.Equal(2, r.RootElement.GetProperty("threads").GetInt32());
    }

    [Fact]
    public void Latency_has_min_mean_max_stdev_and_fios_percentile_list()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 4 << 20);
        using var r = Json(dir, "bench", path, "--runtime", "300ms", "--iodepth", "4");
        var e = r.RootElement;
        double min = e.GetProperty("lat_min_us").GetDouble();
        double mean = e.GetProperty("lat_mean_us").GetDouble();
        double max = e.GetProperty("lat_max_us").GetDouble();
        Assert.True(min > 0 && min <= mean && mean <= max, $"min {min} mean {mean} max {max}");
        Assert.True(e.GetProperty("lat_stdev_us").GetDouble() >= 0);
        var pct = e.GetProperty("lat_percentiles_us").EnumerateObject().ToList();
        Assert.Equal(["1", "5", "10", "50", "90", "95", "99", "99.9", "99.99"], pct.Select(p => p.Name));
        var values = pct.Select(p => p.Value.GetDouble()).ToList();
        Assert.Equal(values.Order(), values);
        // HdrHistogram at 3 significant digits: a percentile is within 0.1 % of a recorded value.
        Assert.InRange(values[0], min * 0.999, max * 1.001);
        Assert.InRange(values[^1], min * 0.999, max * 1.001);

        var (code, stdout, _) = AioCli.Run(dir.Path, "bench", path, "--runtime", "200ms", "--iodepth", "4");
        Assert.Equal(0, code);
        Assert.Matches(@"io_uring: lat \(us\): min=[\d.]+, max=[\d.]+, avg=[\d.]+, stdev=[\d.]+", stdout);
        Assert.Contains("io_uring: lat percentiles (us): 1.00th=[", stdout);
        Assert.Contains("99.99th=[", stdout);
    }

    [Fact]
    public void Nothing_of_the_status_line_when_output_is_not_a_terminal()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", "--size", "8m", "--runtime", "1200ms");
        Assert.Equal(0, code);
        // The line is redrawn every 500 ms with a carriage return: a 1.2 s run on a terminal draws it twice.
        Assert.DoesNotContain("\r", stdout + stderr);
        Assert.DoesNotContain("ETA", stdout + stderr);
        Assert.DoesNotContain("%]", stdout + stderr);
    }

    [Fact]
    public void After_an_interruption_the_header_gives_the_runtime_measured()
    {
        using var dir = new TempDir();

        // The run starts once the scratch file is filled.
        var (code, stdout, stderr) = AioCli.RunAndTerminate(dir.Path, () => Filled(dir.Path, 16 << 20), "the scratch file filled", "bench", "--size", "16m", "--runtime", "60s", "--iodepth", "4");
        _output.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        var header = stdout.Split('\n').First(l => l.StartsWith("randread", StringComparison.Ordinal));
        var m = System.Text.RegularExpressions.Regex.Match(header, @"runtime=([\d.]+)s \(interrupted; asked for 60s\)");
        Assert.True(m.Success, header);
        double runtime = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(runtime < 30, header);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Termination_during_the_scratch_file_fill_deletes_the_file()
    {
        using var dir = new TempDir();

        // 8 GiB takes seconds to write; the signal comes as soon as the file exists.
        var (code, stdout, stderr) = AioCli.RunAndTerminate(dir.Path, () => Directory.GetFiles(dir.Path).Length > 0, "the scratch file", "bench", "--size", "8g", "--runtime", "1s");
        _output.WriteLine(stdout + stderr);
        Assert.Equal(130, code);
        Assert.Contains("aio: interrupted while creating the scratch file", stderr);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Termination_during_the_ramp_reports_nothing_measured()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.RunAndTerminate(dir.Path, () => Filled(dir.Path, 16 << 20), "the scratch file filled", "bench", "--size", "16m", "--ramp-time", "60s", "--runtime", "1s", "--iodepth", "4");
        _output.WriteLine(stdout + stderr);
        Assert.Equal(130, code);
        Assert.Contains("aio: interrupted before anything was measured", stderr);
        Assert.DoesNotContain("iops", stdout);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Iotest_terminated_during_its_scratch_file_fill_deletes_the_file()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.RunAndTerminate(dir.Path, () => Directory.GetFiles(dir.Path).Length > 0, "the scratch file", "iotest", "--size", "8g");
        _output.WriteLine(stdout + stderr);
        Assert.Equal(130, code);
        Assert.Contains("aio: interrupted", stderr);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    private static bool Filled(string dir, long size)
        => Directory.GetFiles(dir).FirstOrDefault() is { } f && new FileInfo(f).Length >= size;

    private JsonDocument Json(TempDir dir, params string[] args)
    {
        var all = args.Append("--json").ToArray();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, all);
        _output.WriteLine(stdout + stderr);
        Assert.True(code == 0, $"aio {string.Join(' ', args)} exited {code}: {stderr}");
        return JsonDocument.Parse(stdout);
    }
}
