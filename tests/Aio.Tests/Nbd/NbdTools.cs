using System.Diagnostics;
using System.Text;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>Runs the real NBD clients (qemu-io, qemu-img, nbdinfo, nbdcopy, nbdsh, fio) as child processes, each bounded.</summary>
public static class NbdTools
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    /// <summary>The tool's path in /usr/bin or /usr/sbin (not PATH: a pyenv python would break nbdsh), or null.</summary>
    public static string? Find(string tool)
    {
        foreach (string dir in new[] { "/usr/bin", "/usr/sbin", "/usr/local/bin" })
        {
            string path = Path.Combine(dir, tool);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>Runs <paramref name="tool"/> and returns its exit code and output; fails the test on a timeout.</summary>
    public static (int Code, string Stdout, string Stderr) Run(string tool, params string[] args)
        => RunWithInput(tool, null, args);

    public static (int Code, string Stdout, string Stderr) RunWithInput(string tool, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(Find(tool) ?? throw new InvalidOperationException(tool + " is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        // nbdsh needs the system python with the nbd module.
        psi.Environment["PATH"] = "/usr/bin:/bin:/usr/sbin:/sbin";
        using var process = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stdout)
                {
                    stdout.AppendLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(s_timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{tool} {string.Join(' ', args)} did not finish in {s_timeout.TotalSeconds} s");
        }

        process.WaitForExit();
        lock (stdout)
        {
            lock (stderr)
            {
                return (process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }

    /// <summary>Runs a tool and fails the test (showing its output) unless it exits 0.</summary>
    public static string Check(string tool, params string[] args)
    {
        var (code, stdout, stderr) = Run(tool, args);
        Assert.True(code == 0, $"{tool} {string.Join(' ', args)} exited {code}:\n{stdout}\n{stderr}");
        return stdout;
    }
}
