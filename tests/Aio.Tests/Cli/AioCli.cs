using System.Diagnostics;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Cli;

/// <summary>Runs the real <c>aio</c> (Aio.Cli.dll) as a child: plainly, under strace with faults injected, or to be signalled.</summary>
internal static class AioCli
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "Aio.Cli.dll");

    /// <summary>Runs <c>aio ARGS</c> in <paramref name="dir"/>; stdout and stderr are pipes (not a terminal).</summary>
    public static (int Code, string Stdout, string Stderr) Run(string dir, params string[] args)
        => ChildProcess.RunDll("Aio.Cli.dll", dir, Timeout, args);

    /// <summary>Runs <c>aio ARGS</c> as <see cref="Run"/> does, failing the test if it has not exited within <paramref name="limit"/> (for a run that could hang).</summary>
    public static (int Code, string Stdout, string Stderr) RunWithin(TimeSpan limit, string dir, params string[] args)
        => ChildProcess.RunDll("Aio.Cli.dll", dir, limit, args);

    /// <summary>Runs <c>aio ARGS</c> under <c>strace -f -e inject=...</c>; returns its exit code, output, and strace's lines of the injected calls.</summary>
    public static (int Code, string Stdout, string Stderr, string[] Injected) RunUnderStrace(string dir, string[] injections, params string[] args)
        => RunUnderStrace(dir, injections, null, args);

    /// <summary>As above, with <paramref name="environment"/> set for aio and what it starts (PATH, for one).</summary>
    public static (int Code, string Stdout, string Stderr, string[] Injected) RunUnderStrace(string dir, string[] injections, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        Assert.NotNull(Strace.Executable);
        string trace = Path.Combine(Path.GetTempPath(), $"aio-cli-strace-{Guid.NewGuid():N}.txt");
        var syscalls = injections.Select(i => i.Split(':')[0]).Distinct();
        var all = new List<string> { "-f", "-qq", "--seccomp-bpf", "-o", trace, "-e", "trace=" + string.Join(',', syscalls) };
        foreach (var i in injections)
        {
            all.Add("-e");
            all.Add("inject=" + i);
        }

        all.Add("dotnet");
        all.Add(Dll);
        all.AddRange(args);
        var psi = ChildProcess.StartInfo(Strace.Executable!, dir, all);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        using var p = Process.Start(psi)!;
        var stdout = Task.Run(p.StandardOutput.ReadToEnd);
        var stderr = Task.Run(p.StandardError.ReadToEnd);
        if (!p.WaitForExit(Timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"strace ... aio {string.Join(' ', args)} did not finish within {Timeout.TotalSeconds} s");
        }

        string[] injected = [];
        if (File.Exists(trace))
        {
            injected = File.ReadAllLines(trace).Where(l => l.Contains("(INJECTED)", StringComparison.Ordinal)).ToArray();
            File.Delete(trace);
        }

        return (p.ExitCode, stdout.Result, stderr.Result, injected);
    }

    /// <summary>
    /// Starts <c>aio ARGS</c>, waits until <paramref name="ready"/> holds, sends SIGTERM (the same handler as Ctrl-C:
    /// a non-interactive parent may start its children with SIGINT ignored), and returns how it ended.
    /// </summary>
    public static (int Code, string Stdout, string Stderr) RunAndTerminate(string dir, Func<bool> ready, string what, params string[] args)
    {
        using var p = Process.Start(ChildProcess.StartInfo("dotnet", dir, [Dll, .. args]))!;
        var stdout = Task.Run(p.StandardOutput.ReadToEnd);
        var stderr = Task.Run(p.StandardError.ReadToEnd);
        try
        {
            Wait.Until(() => ready() || p.HasExited, () => Thread.Sleep(5), what, TimeSpan.FromSeconds(60));
            if (p.HasExited)
            {
                // Only now may the test wait for its output: the message of an assertion is built before it is checked.
                Assert.Fail("aio exited before it was interrupted: " + stderr.Result);
            }

            Aio.Interop.Errors.Check(Aio.Interop.Libc.Kill(p.Id, Aio.Interop.Libc.SIGTERM), "kill");
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "aio did not stop after SIGTERM");
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }
        }

        Assert.True(stdout.Wait(Wait.Default), "the child's output did not close");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
