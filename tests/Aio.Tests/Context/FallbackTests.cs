using System.Diagnostics;
using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Context;

/// <summary>
/// The io_uring refusal is real: a child process installs a seccomp filter that makes io_uring_setup fail with EPERM,
/// then exercises AioContext.Create (see tests/Aio.TestHelper).
/// </summary>
public class FallbackTests
{
    private readonly ITestOutputHelper _output;

    public FallbackTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Refused_io_uring_falls_back_to_a_working_poll_context() => RunScenario("fallback");

    [IoUringFact]
    public void Refusal_after_another_context_got_io_uring_fails_create_all_or_none() => RunScenario("all-or-none");

    [Fact]
    public void Explicit_io_uring_request_under_refusal_throws_EPERM() => RunScenario("explicit");

    [Fact]
    public void Simulated_refusal_in_auto_mode_gives_poll()
    {
        using var ctx = AioContext.Create(new AioContextOptions { SimulatedIoUringErrno = Aio.Interop.Errno.ENOSYS });
        Assert.Equal(FdMonitorKind.Poll, ctx.Monitor);
        Assert.False(ctx.HasIoUring);
        Assert.Null(ctx.IoUring);
    }

    private void RunScenario(string scenario)
    {
        string helper = Path.Combine(AppContext.BaseDirectory, "Aio.TestHelper.dll");
        Assert.True(File.Exists(helper), $"helper not built at {helper}");
        var psi = new ProcessStartInfo("dotnet", [helper, scenario])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(psi)!;
        var stdout = Task.Run(process.StandardOutput.ReadToEnd);
        var stderr = Task.Run(process.StandardError.ReadToEnd);
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"scenario '{scenario}' did not finish within 60 s");
        }

        string output = stdout.Result + stderr.Result;
        _output.WriteLine(output);
        Assert.True(process.ExitCode == 0, $"scenario '{scenario}' failed (exit {process.ExitCode}): {output}");
        Assert.StartsWith("OK: ", stdout.Result);
    }
}
