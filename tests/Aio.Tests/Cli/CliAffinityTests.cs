using System.Diagnostics;
using System.Text.Json;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Cli;

/// <summary><c>aio bench --cpus-allowed</c>: fio's cpus_allowed for the loop threads.</summary>
public class CliAffinityTests
{
    [Fact]
    public void A_pinned_run_measures_and_says_so_in_its_header()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", "--size", "8m", "--runtime", "300ms", "--cpus-allowed", "0");
        Assert.True(code == 0, stderr);
        Assert.Contains(" cpus_allowed=0 ", stdout.Split('\n')[0] + " ");
    }

    [Fact]
    public void Each_loop_thread_is_pinned_and_the_other_threads_are_not()
    {
        Assert.True(Environment.ProcessorCount > 1, "the test needs two CPUs to tell a pinned thread from the others");
        using var dir = new TempDir();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = dir.Path, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { AioCli.Dll, "bench", "--size", "8m", "--runtime", "20s", "--threads", "2", "--cpus-allowed", "0", "--json" })
        {
            start.ArgumentList.Add(a);
        }

        using var aio = Process.Start(start)!;
        try
        {
            // The loop threads are named bench-N; read what the kernel says each thread may run on.
            Dictionary<string, string> allowed = [];
            Wait.Until(
                () => (allowed = ThreadsAllowed(aio.Id)).Keys.Count(k => k.StartsWith("bench-", StringComparison.Ordinal)) == 2
                    && allowed.Where(t => t.Key.StartsWith("bench-", StringComparison.Ordinal)).All(t => t.Value == "0"),
                () => Thread.Sleep(20),
                "both loop threads to be pinned to CPU 0");
            Assert.NotEqual("0", allowed["dotnet"]);
        }
        finally
        {
            aio.Kill(entireProcessTree: true);
            aio.WaitForExit(10_000);
        }
    }

    private static Dictionary<string, string> ThreadsAllowed(int pid)
    {
        var result = new Dictionary<string, string>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                string? list = File.ReadLines(Path.Combine(task, "status")).FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
                if (list is not null)
                {
                    result.TryAdd(name, list["Cpus_allowed_list:".Length..].Trim());
                }
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read.
            }
        }

        return result;
    }

    [Theory]
    [InlineData("x")]
    [InlineData("1-0")]
    [InlineData("0-1-2")]
    [InlineData("1024")]
    [InlineData("")]
    public void A_malformed_list_is_a_usage_error(string list)
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", "--size", "8m", "--runtime", "300ms", "--cpus-allowed", list);
        Assert.Equal(2, code);
        Assert.Equal($"aio: --cpus-allowed: '{list}' is not a CPU list (numbers 0-1023 and ranges, such as 1 or 0,2-3)", stderr.Trim());
        Assert.Empty(stdout);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_list_of_CPUs_this_machine_does_not_have_is_refused_by_the_kernel_in_one_line()
    {
        Assert.True(Environment.ProcessorCount < 1000, "the test needs a CPU number the machine does not have");
        using var dir = new TempDir();
        var (code, stdout, stderr) = AioCli.Run(dir.Path, "bench", "--size", "8m", "--runtime", "300ms", "--cpus-allowed", "1000-1023");
        Assert.Equal(2, code);
        // The scratch file was made before the loops started (its "created" line comes first), and is gone again.
        Assert.Equal("aio: --cpus-allowed 1000-1023: none of these CPUs is online (or allowed to this process)", stderr.Trim().Split('\n')[^1]);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
