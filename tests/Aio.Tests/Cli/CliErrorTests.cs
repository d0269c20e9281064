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

    [StraceTheory]
    [InlineData("pread64", 100, "bench")]
    [InlineData("fsync", 1, "bench")]
    [InlineData("fsync", 1, "iotest")]
    public void A_second_SIGTERM_ends_a_run_stuck_in_a_call_and_deletes_its_scratch_file(string syscall, int held, string command)
    {
        // strace holds each thread's calls of the syscall from the held-th on for a minute (strace counts per thread).
        // pread64 from the 100th: the runtime's start makes 24 on the main thread, so the run's one worker gets stuck in
        // a read that checks no token. fsync from the first: the scratch file's fill is stuck in its final flush. Either
        // way the first signal cannot end the run; the second ends the process at once, the scratch file deleted first.
        using var dir = new TempDir();
        string trace = Path.Combine(Path.GetTempPath(), $"aio-cli-strace-{Guid.NewGuid():N}.txt");
        string[] args =
        [
            "-f", "-qq", "--seccomp-bpf", "-o", trace, "-e", "trace=" + syscall, "-e", $"inject={syscall}:delay_enter=60000000:when={held}+",
            "dotnet", AioCli.Dll, .. command == "bench"
                ? new[] { "bench", "--size", "1m", "--engine", "randomaccess", "--direct", "false", "--iodepth", "1", "--runtime", "10m" }
                : ["iotest", "--size", "1m"],
        ];
        using var strace = System.Diagnostics.Process.Start(ChildProcess.StartInfo(Strace.Executable!, dir.Path, args))!;
        var stderr = new System.Text.StringBuilder();
        strace.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        strace.BeginErrorReadLine();
        strace.BeginOutputReadLine();
        string Stderr()
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }

        try
        {
            // Held: a thread of aio found inside the same call (the same /proc/PID/task/TID/syscall line: number,
            // arguments, stack) twice, 100 ms apart. A call strace does not hold takes microseconds, and two of them
            // with the same random offset and stack cannot follow each other. (strace's own record of the held entry
            // is not a sign: it buffers its output, and the line may not reach the file.)
            int aio = 0;
            var before = new Dictionary<string, string>();
            bool Held() => strace.HasExited || ((aio = aio > 0 ? aio : ChildOf(strace.Id)) > 0 && HeldCall(aio, syscall, before));
            if (!Held())
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                do
                {
                    // Said in full if it fails: which threads were in the call, and what aio wrote.
                    Assert.True(DateTime.UtcNow < deadline, $"no {syscall} held by strace within 60 s: aio {aio}, threads in it: [{string.Join("; ", before.Values)}], stderr: {Stderr()}");
                    Thread.Sleep(100);
                }
                while (!Held());
            }

            Assert.False(strace.HasExited, "aio exited before it was interrupted: " + Stderr());

            Aio.Interop.Errors.Check(Aio.Interop.Libc.Kill(aio, Aio.Interop.Libc.SIGTERM), "kill");
            Wait.Until(() => Stderr().Contains("aio: stopping", StringComparison.Ordinal) || strace.HasExited, () => Thread.Sleep(10), "the first signal's note");
            Assert.False(strace.HasExited, "the run ended at the first signal: nothing was stuck");
            Assert.Single(Directory.GetFiles(dir.Path));

            Aio.Interop.Errors.Check(Aio.Interop.Libc.Kill(aio, Aio.Interop.Libc.SIGTERM), "kill");

            // Gone, a zombie, or killed by the signal's default action: strace 6.1 loses track of a thread it holds when
            // the process dies ("has delayed wait data set already") and never lets it finish (the held thread stays
            // stopped, a zombie leader's process never goes), so strace's own exit is not the sign; its record of the
            // threads killed by SIGTERM is.
            Wait.Until(() => Exited(aio) || KilledBySigterm(trace), () => Thread.Sleep(10), "aio to end at the second signal");
        }
        finally
        {
            if (!strace.HasExited)
            {
                strace.Kill(entireProcessTree: true);
            }

            File.Delete(trace);
        }

        Assert.True(strace.WaitForExit(TimeSpan.FromSeconds(20)), "strace did not exit after the kill");
        Wait.Until(() => Stderr().Contains("aio: interrupted again: exiting", StringComparison.Ordinal), () => Thread.Sleep(10), "the second signal's note on stderr");
        _output.WriteLine(Stderr());
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>
    /// Whether a thread of <paramref name="pid"/> is inside <paramref name="syscall"/> with the same /proc syscall line
    /// (number, arguments, stack and program counter) as at the last look, which <paramref name="before"/> keeps.
    /// </summary>
    private static bool HeldCall(int pid, string syscall, Dictionary<string, string> before)
    {
        bool arm64 = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;
        int nr = syscall switch
        {
            "pread64" => arm64 ? 67 : 17,
            "fsync" => arm64 ? 82 : 74,
            _ => throw new ArgumentOutOfRangeException(nameof(syscall)),
        };
        string prefix = nr.ToString(System.Globalization.CultureInfo.InvariantCulture) + " ";
        var now = new Dictionary<string, string>();
        try
        {
            foreach (string task in Directory.GetDirectories($"/proc/{pid}/task"))
            {
                string line = File.ReadAllText(Path.Combine(task, "syscall")).Trim();
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    now[task] = line;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A thread (or the process) ended between the listing and the read.
        }

        bool held = now.Any(t => before.TryGetValue(t.Key, out string? earlier) && earlier == t.Value);
        before.Clear();
        foreach (var (task, line) in now)
        {
            before[task] = line;
        }

        return held;
    }

    /// <summary>Whether strace's <paramref name="trace"/> records a thread killed by SIGTERM.</summary>
    private static bool KilledBySigterm(string trace)
    {
        using var reader = new StreamReader(new FileStream(trace, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        return reader.ReadToEnd().Contains("+++ killed by SIGTERM +++", StringComparison.Ordinal);
    }

    /// <summary>Whether process <paramref name="pid"/> has ended (its /proc entry gone, or a zombie).</summary>
    private static bool Exited(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>The first child of <paramref name="pid"/>, or 0.</summary>
    private static int ChildOf(int pid)
    {
        string path = $"/proc/{pid}/task/{pid}/children";
        string text = File.Exists(path) ? File.ReadAllText(path).Trim() : string.Empty;
        return text.Length > 0 && int.TryParse(text.Split(' ')[0], out int child) ? child : 0;
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
