using System.Diagnostics;
using Xunit;

namespace Aio.Tests.Support;

/// <summary>Runs a program, or a .NET assembly from the test output folder, as a child process, bounded in time.</summary>
public static class ChildProcess
{
    public static (int ExitCode, string Stdout, string Stderr) RunDll(string dll, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        string path = Path.Combine(AppContext.BaseDirectory, dll);
        Assert.True(File.Exists(path), $"{dll} not built at {path}");
        return Run("dotnet", workingDirectory, timeout, [path, .. args]);
    }

    /// <summary>Runs <paramref name="program"/> (a name on PATH or a path) and returns its exit code and output; fails the test after <paramref name="timeout"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string program, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        using var process = Process.Start(StartInfo(program, workingDirectory, args))!;
        var stdout = Task.Run(process.StandardOutput.ReadToEnd);
        var stderr = Task.Run(process.StandardError.ReadToEnd);
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary><paramref name="program"/> with <paramref name="args"/> in <paramref name="workingDirectory"/>, stdout and stderr redirected (pipes, not a terminal).</summary>
    public static ProcessStartInfo StartInfo(string program, string workingDirectory, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }
}
