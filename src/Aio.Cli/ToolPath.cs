namespace Aio.Cli;

/// <summary>Finds the external programs that <c>aio bench --compare</c> runs.</summary>
internal static class ToolPath
{
    /// <summary>The first executable named <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs <paramref name="program"/> to completion (killed on <paramref name="ct"/> or after <paramref name="limit"/>); returns its stdout.</summary>
    public static string Run(string program, IEnumerable<string> args, TimeSpan limit, CancellationToken ct)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        string name = Path.GetFileName(program);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = Task.Run(p.StandardOutput.ReadToEnd);
        var stderr = Task.Run(p.StandardError.ReadToEnd);
        using (ct.Register(() => Kill(p)))
        {
            if (!p.WaitForExit(limit))
            {
                Kill(p);
                throw new TimeoutException($"{name} did not finish within {limit.TotalSeconds:0} s");
            }
        }

        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            ct.ThrowIfCancellationRequested();
            string reason = Reason(stdout.Result, stderr.Result);
            throw new InvalidOperationException($"{name} failed (exit {p.ExitCode})" + (reason.Length == 0 ? string.Empty : ": " + reason));
        }

        return stdout.Result;
    }

    /// <summary>
    /// What a failed program said, on one line: its stderr, or else the text its stdout has before any JSON (fio
    /// prints a job's error there, ahead of its report, and nothing on stderr); empty if neither says anything.
    /// </summary>
    internal static string Reason(string stdout, string stderr)
    {
        const int MaxLength = 400;
        var lines = stderr.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0)
        {
            lines = stdout.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).TakeWhile(l => !l.StartsWith('{')).ToArray();
        }

        string reason = string.Join("; ", lines);
        return reason.Length <= MaxLength ? reason : reason[..MaxLength] + "...";
    }

    private static void Kill(System.Diagnostics.Process p)
    {
        try
        {
            p.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }
}
