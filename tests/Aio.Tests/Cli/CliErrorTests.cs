using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Cli;

/// <summary>aio never shows a stack trace: bad input and missing kernel features get one line.</summary>
public class CliErrorTests
{
    private readonly ITestOutputHelper _output;

    public CliErrorTests(ITestOutputHelper output) => _output = output;

    [StraceFact]
    public void Bench_without_io_uring_falls_back_to_the_threads_engine_with_a_one_line_note()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr, injected) = AioCli.RunUnderStrace(dir.Path, ["io_uring_setup:error=ENOSYS"], "bench", "--size", "8m", "--runtime", "300ms", "--json");
        _output.WriteLine(stdout + stderr);
        Assert.NotEmpty(injected);
        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", stdout + stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("threads", doc.RootElement.GetProperty("engine").GetString());
        Assert.True(doc.RootElement.GetProperty("ios").GetInt64() > 0);
        var note = stderr.Split('\n').Where(l => l.Contains("io_uring", StringComparison.Ordinal)).ToArray();
        Assert.Single(note);
        Assert.Contains("threads engine", note[0]);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [StraceFact]
    public void Bench_runs_where_a_sandbox_refuses_statx()
    {
        // An old seccomp profile answers EPERM to statx: BlockFile's size, mode and identity come from fstat(2) then.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 8 << 20);
        var (code, stdout, stderr, injected) = AioCli.RunUnderStrace(dir.Path, ["statx:error=EPERM"], "bench", path, "--runtime", "200ms", "--json");
        _output.WriteLine(stdout + stderr);
        Assert.NotEmpty(injected);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("ios").GetInt64() > 0);
    }

    [StraceTheory]
    [InlineData("threads")]
    [InlineData("randomaccess")]
    public void An_IO_error_in_one_worker_ends_the_run_instead_of_leaving_the_others_to_its_end(string engine)
    {
        // The 300th read fails with EIO (strace injects it); the run is asked to last ten minutes. It ends on the error,
        // with exit 1 and one line, well inside the child's time limit.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 8 << 20);
        var (code, stdout, stderr, injected) = AioCli.RunUnderStrace(
            dir.Path, ["pread64:error=EIO:when=300"], "bench", path, "--engine", engine, "--direct", "false", "--threads", "2", "--iodepth", "4", "--runtime", "10m");
        _output.WriteLine(stdout + stderr);
        Assert.NotEmpty(injected);
        Assert.True(code == 1, $"exit {code}: {stderr}");
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData("bench", "--frob")]
    [InlineData("bench", "disk", "--frob")]
    [InlineData("iotest", "--frob")]
    [InlineData("--frob")]
    public void An_unknown_option_says_unknown_option(params string[] args)
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, args);
        Assert.Equal(2, code);
        Assert.Equal("aio: unknown option '--frob'", stderr.Trim());
        Assert.Empty(stdout);
    }

    [Theory]
    [InlineData("--monitor epoll", "--monitor configures")]
    [InlineData("--max-batch 8 --poll-max-ns 0", "--max-batch, --poll-max-ns configure")]
    [InlineData("--cpus-allowed 0", "--cpus-allowed configures")]
    public void Loop_options_with_the_randomaccess_engine_are_refused_before_any_file_is_made(string options, string message)
    {
        // RandomAccess on the thread pool has no loop: ignored, they would label a run with tuning it never had.
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, ["bench", "--engine", "randomaccess", "--size", "1m", "--runtime", "100ms", .. options.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Equal($"aio: {message} Aio's loops, and --engine randomaccess runs none", stderr.Trim());
        Assert.Empty(stdout);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Theory]
    [InlineData("bench")]
    [InlineData("iotest")]
    public void A_directory_as_FILE_says_is_a_directory(string command)
    {
        using var dir = new TempDir();
        var (code, _, stderr) = AioCli.Run(dir.Path, command, dir.Path);
        Assert.Equal(2, code);
        Assert.Equal($"aio: {dir.Path}: is a directory (give a file or a block device)", stderr.Trim());
    }

    [Theory]
    [InlineData("bench", "fifo")]
    [InlineData("iotest", "fifo")]
    [InlineData("bench", "/dev/null")]
    [InlineData("iotest", "/dev/null")]
    [InlineData("nbd serve", "fifo")]
    public void A_FILE_that_is_neither_a_regular_file_nor_a_block_device_is_refused_before_it_is_opened(string command, string what)
    {
        // Opening a named pipe waits for a writer, for ever and deaf to Ctrl-C; a character device has no blocks to
        // measure. Both are refused from stat, with one line, before any open.
        using var dir = new TempDir();
        string file = what;
        if (what == "fifo")
        {
            file = Path.Combine(dir.Path, "pipe");
            using var mkfifo = System.Diagnostics.Process.Start(ChildProcess.StartInfo("mkfifo", dir.Path, [file]))!;
            Assert.True(mkfifo.WaitForExit(TimeSpan.FromSeconds(10)) && mkfifo.ExitCode == 0, "mkfifo failed");
        }

        var (code, stdout, stderr) = AioCli.RunWithin(TimeSpan.FromSeconds(20), dir.Path, [.. command.Split(' '), file]);
        Assert.Equal(2, code);
        Assert.Equal($"aio: {file}: is not a regular file or a block device", stderr.Trim());
        Assert.Empty(stdout);
    }

    [Theory]
    [InlineData("--bs", "4g")]
    [InlineData("--runtime", "nan")]
    [InlineData("--runtime", "1e300")]
    [InlineData("--ramp-time", "-1s")]
    [InlineData("--offset", "-4k")]
    [InlineData("--poll-max-ns", "-1")]
    [InlineData("--rw", "randwrite", "--verify", "--direct", "false", "--bs", "1001")]
    [InlineData("--offset", "4096", "--size", "9223372036854775807")]
    public void Values_out_of_range_are_refused_with_one_line_not_wrapped_or_thrown(params string[] args)
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 1 << 20);
        var (code, stdout, stderr) = AioCli.Run(dir.Path, ["bench", path, .. args]);
        Assert.True(code == 2, $"exit {code}: {stderr}");
        Assert.Empty(stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", stderr);
    }

    [LoopDeviceFact(SectorSize = 8192)]
    public void A_block_size_the_device_cannot_take_with_O_DIRECT_is_refused_up_front_not_by_every_request()
    {
        // 4096 passes the check against 512; the device's blocks are 8 KiB, and BlockFile refused each request.
        using var device = LoopDevice.TryCreate(1 << 20, out string why, sectorSize: 8192);
        Assert.True(device is not null, why);
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", device!.Path, "--bs", "4k", "--runtime", "200ms");
        Assert.True(code == 2, $"exit {code}: {stderr}");
        Assert.Empty(stdout);
        Assert.Equal($"aio: --bs 4096 is not a multiple of 8192, the direct-I/O alignment of {device.Path}", stderr.Trim());
    }

    [Fact]
    public void Zero_with_a_unit_is_zero_for_the_offset_and_the_ramp_time()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 1 << 20);
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", path, "--offset", "0k", "--ramp-time", "0ms", "--runtime", "200ms", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(0, doc.RootElement.GetProperty("offset").GetInt64());
    }

    [Fact]
    public void A_missing_FILE_says_no_such_file_under_dev_too()
    {
        using var dir = new TempDir();
        string file = "/dev/shm/aio-tests-missing-" + Guid.NewGuid().ToString("N");
        var (code, _, stderr) = AioCli.Run(dir.Path, "bench", file);
        Assert.Equal(2, code);
        Assert.Equal($"aio: {file}: no such file", stderr.Trim());
    }

    [Fact]
    public void Help_says_aio_not_the_assembly_name_and_shows_the_defaults()
    {
        using var dir = new TempDir();
        var (code, stdout, _) = AioCli.Run(dir.Path, "bench", "--help");
        Assert.Equal(0, code);
        Assert.Contains("  aio bench [<FILE>]", stdout);
        Assert.DoesNotContain("Aio.Cli", stdout);
        foreach (var d in new[] { "[default: randread]", "[default: 4k]", "[default: 32]", "[default: 10s]", "[default: 0s]", "[default: 50]", "[default: io_uring]", "[default: true]", "[default: 1]", "--numjobs, --threads" })
        {
            Assert.Contains(d, stdout);
        }

        (code, stdout, _) = AioCli.Run(dir.Path, "--help");
        Assert.Equal(0, code);
        Assert.Contains("  aio [command] [options]", stdout);
    }

    [Fact]
    public void Size_with_a_FILE_is_the_region_and_one_past_the_end_of_the_file_is_refused()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 4 << 20);
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", path, "--size", "1m", "--runtime", "200ms", "--json");
        Assert.True(code == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal(1 << 20, doc.RootElement.GetProperty("size").GetInt64());
        }

        (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", path, "--size", "8m", "--runtime", "200ms");
        Assert.Equal(2, code);
        Assert.StartsWith("aio: --offset + --size", stderr.Trim());
        Assert.Contains("past the end of", stderr);
        Assert.Single(stderr.Trim().Split('\n'));

        (code, _, stderr) = AioCli.Run(dir.Path, "bench", path, "--offset", "4m", "--runtime", "200ms");
        Assert.Equal(2, code);
        Assert.Contains("past the end of", stderr);
    }

    [Fact]
    public void The_cli_is_built_on_the_public_api_of_Aio_alone()
    {
        // Aio.Cli must keep working when Aio changes its internals: Aio grants it no access to them.
        var granted = typeof(AioContext).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName);
        Assert.DoesNotContain("Aio.Cli", granted);
        Assert.True(File.Exists(AioCli.Dll), "Aio.Cli.dll is built beside the tests");
    }
}
