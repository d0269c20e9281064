using System.Diagnostics;
using Xunit;

namespace Aio.Tests.Support;

/// <summary>
/// Runs an Aio.TestHelper scenario under real strace with syscall faults injected
/// (<c>strace -f -e trace=SYSCALLS -e inject=SYSCALL:error=ERRNO[:when=N]</c>), bounded in time.
/// </summary>
/// <remarks>
/// strace only tampers with the syscalls that <c>-e trace</c> selects (<c>trace=none</c> would disable every
/// injection), so the trace set is the union of the injected syscalls. Injections are counted per syscall and per
/// thread: <c>when=1</c> is each thread's first call. <c>--seccomp-bpf</c> stops the child only at the traced
/// syscalls, so the rest of the runtime runs at full speed.
/// </remarks>
public static class Strace
{
    /// <summary>The backstop; a scenario's own watchdog (12 s) reports a hang first, with what it was doing.</summary>
    public static readonly TimeSpan ChildTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The strace executable on PATH, or null.</summary>
    public static string? Executable { get; } = Find();

    public const string NotInstalled = "strace is not installed (the fault-injection tests need it: apt-get install strace; .ci/run installs it)";

    /// <summary>
    /// Runs <c>Aio.TestHelper <paramref name="scenario"/></c> (the scenario name, then its arguments) under strace
    /// with each of <paramref name="injections"/> ("io_uring_enter:error=EINTR:when=3+2") as an <c>-e inject=</c>.
    /// </summary>
    public static StraceRun Run(string[] scenario, string[] injections, TimeSpan? timeout = null)
    {
        Assert.NotNull(Executable);
        Assert.NotEmpty(scenario);
        Assert.NotEmpty(injections);
        string helper = Path.Combine(AppContext.BaseDirectory, "Aio.TestHelper.dll");
        Assert.True(File.Exists(helper), $"Aio.TestHelper.dll not built at {helper}");
        string traceFile = Path.Combine(Path.GetTempPath(), $"aio-strace-{Environment.ProcessId}-{Guid.NewGuid():N}.txt");
        var syscalls = injections.SelectMany(i => i.Split(':')[0].Split(',')).Distinct().ToArray();
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["-f", "-qq", "--seccomp-bpf", "-o", traceFile, "-e", "trace=" + string.Join(',', syscalls)])
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var injection in injections)
        {
            psi.ArgumentList.Add("-e");
            psi.ArgumentList.Add("inject=" + injection);
        }

        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(helper);
        foreach (var a in scenario)
        {
            psi.ArgumentList.Add(a);
        }

        string command = "strace " + string.Join(' ', psi.ArgumentList.Select(a => a == helper ? "Aio.TestHelper.dll" : a == traceFile ? "TRACE" : a));
        var limit = timeout ?? ChildTimeout;
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var stdout = Task.Run(process.StandardOutput.ReadToEnd);
        var stderr = Task.Run(process.StandardError.ReadToEnd);
        bool exited = process.WaitForExit(limit);
        if (!exited)
        {
            // strace and the traced child: the child would otherwise outlive a killed tracer.
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        sw.Stop();
        string trace = string.Empty;
        if (File.Exists(traceFile))
        {
            trace = File.ReadAllText(traceFile);
            File.Delete(traceFile);
        }

        var run = new StraceRun(command, exited ? process.ExitCode : -1, stdout.Result, stderr.Result, trace, sw.Elapsed, !exited);
        Assert.False(run.TimedOut, $"the child did not finish within {limit.TotalSeconds:0} s and was killed.\n{run.Describe()}");
        return run;
    }

    private static string? Find()
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "strace"))
            .FirstOrDefault(File.Exists);
}
