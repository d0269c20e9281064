using System.Text;
using Xunit;

namespace Aio.Tests.Support;

/// <summary>What a child under strace printed, how it exited, and strace's trace of the injected syscalls.</summary>
public sealed record StraceRun(string Command, int ExitCode, string Stdout, string Stderr, string Trace, TimeSpan Elapsed, bool TimedOut)
{
    private const int TailLines = 20;

    /// <summary>The trace lines of the calls strace made fail.</summary>
    public string[] Injected => Lines(Trace).Where(l => l.Contains("(INJECTED)", StringComparison.Ordinal)).ToArray();

    /// <summary>Asserts that the scenario's checks all held: exit 0, at least one "OK:" line, no "FAIL:" line.</summary>
    public void AssertPassed()
    {
        var lines = Lines(Stdout);
        Assert.True(
            ExitCode == 0 && lines.Any(l => l.StartsWith("OK: ", StringComparison.Ordinal)) && !lines.Any(l => l.StartsWith("FAIL: ", StringComparison.Ordinal)),
            "the scenario failed:\n" + Describe());
    }

    /// <summary>Asserts that strace really injected a fault (at least <paramref name="atLeast"/> times, into calls matching <paramref name="contains"/>): a scenario the fault missed proves nothing.</summary>
    public void AssertInjected(int atLeast = 1, string? contains = null)
    {
        int n = Injected.Count(l => contains is null || l.Contains(contains, StringComparison.Ordinal));
        Assert.True(n >= atLeast, $"strace injected {n} fault(s){(contains is null ? string.Empty : " into calls with " + contains)}, expected at least {atLeast}: the fault missed the code under test.\n" + Describe());
    }

    /// <summary>Everything needed to read a failure without re-running it.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"$ {Command}");
        sb.AppendLine($"exit {ExitCode}{(TimedOut ? " (killed: timeout)" : string.Empty)} after {Elapsed.TotalMilliseconds:0} ms");
        sb.AppendLine("--- child stdout ---");
        sb.AppendLine(Stdout.TrimEnd());
        if (!string.IsNullOrWhiteSpace(Stderr))
        {
            sb.AppendLine("--- stderr (strace and child) ---");
            sb.AppendLine(Tail(Stderr, TailLines));
        }

        var injected = Injected;
        sb.AppendLine($"--- strace: {injected.Length} injected fault(s); first ones ---");
        foreach (var line in injected.Take(5))
        {
            sb.AppendLine(Shorten(line));
        }

        sb.AppendLine($"--- strace: last {TailLines} trace lines ---");
        sb.Append(string.Join('\n', Lines(Trace).TakeLast(TailLines).Select(Shorten)));
        return sb.ToString();
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string Tail(string text, int lines) => string.Join('\n', Lines(text).TakeLast(lines));

    private static string Shorten(string line) => line.Length <= 220 ? line : line[..220] + "...";
}
