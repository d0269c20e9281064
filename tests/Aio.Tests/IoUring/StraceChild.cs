using System.Diagnostics;
using Xunit;

namespace Aio.Tests.IoUring;

/// <summary>
/// Runs an Aio.TestHelper scenario under <c>strace -f -e inject=...</c>: real kernel faults (EAGAIN, ENOMEM, EINTR
/// from a given invocation on) in a child process, so that a fault that breaks the loop cannot take the test host down.
/// </summary>
internal static class StraceChild
{
    /// <summary>Whether strace exists and may trace a child here (it needs ptrace).</summary>
    public static bool Available { get; } = Probe();

    /// <summary>Runs <paramref name="scenario"/> with <paramref name="inject"/> (strace's <c>-e inject=</c> value); fails the test unless it prints OK.</summary>
    public static string RunOk(string inject, string scenario, TimeSpan? timeout = null)
    {
        var (exit, stdout, stderr) = Run(inject, scenario, timeout ?? TimeSpan.FromSeconds(60));
        Assert.True(exit == 0 && stdout.Contains("OK:", StringComparison.Ordinal), $"scenario {scenario} under inject={inject} exited {exit}\nstdout: {stdout}\nstderr: {Tail(stderr)}");
        return stdout;
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(string inject, string scenario, TimeSpan timeout)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Aio.TestHelper.dll");
        Assert.True(File.Exists(dll), $"Aio.TestHelper.dll not built at {dll}");
        var psi = new ProcessStartInfo("strace")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Only the injected call is traced, and seccomp-bpf lets every other syscall run without a stop: the runtime
        // makes thousands of them, and stopping on each would make the child slow to start.
        string syscall = inject[..inject.IndexOf(':', StringComparison.Ordinal)];
        foreach (string arg in new[] { "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=" + syscall, "-e", "inject=" + inject, "dotnet", dll, scenario })
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = Task.Run(process.StandardOutput.ReadToEnd);
        var stderr = Task.Run(process.StandardError.ReadToEnd);
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"scenario {scenario} under inject={inject} did not finish within {timeout.TotalSeconds} s: {stdout.Result}");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];

    private static bool Probe()
    {
        try
        {
            var psi = new ProcessStartInfo("strace", "-f -qq -o /dev/null true") { UseShellExecute = false, RedirectStandardError = true };
            using var process = Process.Start(psi)!;
            return process.WaitForExit(10_000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
