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
            throw new InvalidOperationException($"{name} failed (exit {p.ExitCode}): {stderr.Result.Trim()}");
        }

        return stdout.Result;
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
