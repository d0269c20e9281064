using System.Diagnostics;
using System.Runtime.InteropServices;
using Xunit;

namespace Aio.Tests.Packaging;

/// <summary>Runs the dotnet CLI (and programs it installed) as bounded child processes that leave nothing running.</summary>
public static class DotnetCli
{
    /// <summary>The dotnet installation running these tests (…/shared/Microsoft.NETCore.App/&lt;version&gt;/ is three levels down).</summary>
    public static string Root { get; } = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    public static string Host { get; } = Path.Combine(Root, "dotnet");

    /// <summary>
    /// Runs <paramref name="fileName"/> and returns its exit code and interleaved output; fails the test with that output
    /// when it does not end within <paramref name="timeout"/>.
    /// </summary>
    public static (int ExitCode, string Output) Run(string fileName, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        // No build servers or reusable MSBuild nodes: they would outlive the test.
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["UseSharedCompilation"] = "false";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["DOTNET_ROOT"] = Root;
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        var output = new System.Text.StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"'{fileName} {string.Join(' ', args)}' did not finish within {timeout.TotalSeconds:0} s. Its output:\n{Text()}");
        }

        // The parameterless WaitForExit also waits for the redirected streams to reach end of file.
        process.WaitForExit();
        return (process.ExitCode, Text());

        void Append(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        string Text()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }
}
