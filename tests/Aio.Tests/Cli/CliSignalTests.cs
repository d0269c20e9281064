using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Cli;

/// <summary>
/// SIGTERM (as Ctrl-C's SIGINT) to <c>aio bench</c> and <c>aio iotest</c> under strace, which holds a chosen syscall:
/// the first signal cancels, a second ends a run stuck in a request at once, and a signal after the requests ended
/// lets the results print.
/// </summary>
public sealed class CliSignalTests
{
    private readonly ITestOutputHelper _output;

    public CliSignalTests(ITestOutputHelper output) => _output = output;

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
                    Assert.True(DateTime.UtcNow < deadline, $"no {syscall} held by strace within 60 s: aio {aio}, threads in it: [{string.Join("; ", before.Values)}], all threads: [{Threads(aio)}], stderr: {Stderr()}");
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
            "unlink" => 87,
            "unlinkat" => arm64 ? 35 : 263,
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

    /// <summary>
    /// The child of strace (<paramref name="pid"/>) that runs aio, or 0 while there is none yet. Not simply its first
    /// child: strace forks short-lived children of its own at start (to probe ptrace and seccomp), and a test that
    /// took one of those for aio watched a process that was already gone.
    /// </summary>
    private static int ChildOf(int pid)
    {
        try
        {
            foreach (string child in File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                // Their command line is strace's own, which names Aio.Cli.dll too: aio's begins with dotnet.
                string[] argv = File.ReadAllText($"/proc/{child}/cmdline").Split('\0');
                if (argv.Length > 1 && Path.GetFileName(argv[0]) == "dotnet" && argv[1] == AioCli.Dll)
                {
                    return int.Parse(child, System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // strace, or the child, ended between the listing and the read.
        }

        return 0;
    }

    [StraceFact]
    public void A_signal_while_a_cancelled_run_finishes_lets_it_print_its_results_and_delete_its_file()
    {
        // A quick double Ctrl-C: the first stops the run; the second lands while the results print and the scratch
        // file is deleted, here held there for 15 s by strace (the scratch file's unlink is the process's first, the
        // runtime's diagnostics being off in children). Every request has ended, so it must not end the process.
        bool arm64 = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;
        string unlink = arm64 ? "unlinkat" : "unlink";
        using var dir = new TempDir();
        string trace = Path.Combine(Path.GetTempPath(), $"aio-cli-strace-{Guid.NewGuid():N}.txt");
        string[] args =
        [
            "-f", "-qq", "--seccomp-bpf", "-o", trace, "-e", "trace=" + unlink, "-e", $"inject={unlink}:delay_enter=15000000:when=1",
            "dotnet", AioCli.Dll, "bench", "--size", "1m", "--engine", "randomaccess", "--direct", "false", "--iodepth", "1", "--runtime", "10m",
        ];
        using var strace = System.Diagnostics.Process.Start(ChildProcess.StartInfo(Strace.Executable!, dir.Path, args))!;
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        strace.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        strace.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        strace.BeginErrorReadLine();
        strace.BeginOutputReadLine();
        try
        {
            Wait.Until(() => Read(stderr).Contains("created ", StringComparison.Ordinal) || strace.HasExited, () => Thread.Sleep(10), "the scratch file's fill", TimeSpan.FromSeconds(60));
            Assert.False(strace.HasExited, "aio exited before it was interrupted: " + Read(stderr));
            int aio = ChildOf(strace.Id);
            Assert.True(aio > 0, "aio's pid under strace");

            Aio.Interop.Errors.Check(Aio.Interop.Libc.Kill(aio, Aio.Interop.Libc.SIGTERM), "kill");
            var before = new Dictionary<string, string>();
            Wait.Until(() => HeldCall(aio, unlink, before) || strace.HasExited, () => Thread.Sleep(100), $"the scratch file's {unlink}, held", TimeSpan.FromSeconds(30));
            Assert.False(strace.HasExited, "aio exited before its file's unlink was held: " + Read(stderr));

            Aio.Interop.Errors.Check(Aio.Interop.Libc.Kill(aio, Aio.Interop.Libc.SIGTERM), "kill");
            Assert.True(strace.WaitForExit(TimeSpan.FromSeconds(30)), "aio did not exit once its unlink was let go: " + Read(stderr));
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
        string err = Read(stderr);
        _output.WriteLine(Read(stdout) + err);
        Assert.Contains("aio: stopping", err, StringComparison.Ordinal);
        Assert.Contains("aio: finishing", err, StringComparison.Ordinal);
        Assert.DoesNotContain("interrupted again", err, StringComparison.Ordinal);

        // Stopped at once by the first signal, the run may have measured nothing (exit 130 and a note); otherwise the
        // results printed and the exit status is 0. Either way not the second signal's 143, and the file is gone.
        bool measured = Read(stdout).Contains("randomaccess ", StringComparison.Ordinal);
        Assert.True(measured ? strace.ExitCode == 0 : strace.ExitCode == Aio.Cli.Bench.Interrupted && err.Contains("before anything was measured", StringComparison.Ordinal), $"exit {strace.ExitCode}: {err}");
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>Each thread of <paramref name="pid"/>: its name, state and /proc syscall number (for failure messages).</summary>
    private static string Threads(int pid)
    {
        var threads = new List<string>();
        try
        {
            foreach (string task in Directory.GetDirectories($"/proc/{pid}/task"))
            {
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                string state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
                string call = File.ReadAllText(Path.Combine(task, "syscall")).Split(' ')[0].Trim();
                threads.Add($"{File.ReadAllText(Path.Combine(task, "comm")).Trim()} {state} {call}");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            threads.Add(ex.Message);
        }

        return string.Join("; ", threads);
    }

    private static void Append(System.Text.StringBuilder text, string? line)
    {
        lock (text)
        {
            text.AppendLine(line);
        }
    }

    private static string Read(System.Text.StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }
}
