using System.Diagnostics;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>curl as a second, independent HTTP client.</summary>
public static class Curl
{
    /// <summary>Runs curl and returns its standard output; fails on a non-zero exit or after 20 s.</summary>
    public static async Task<string> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--max-time");
        info.ArgumentList.Add("15");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(process.ExitCode == 0, $"curl {string.Join(' ', args)} exited {process.ExitCode}: {await error}");
        return await output;
    }
}
