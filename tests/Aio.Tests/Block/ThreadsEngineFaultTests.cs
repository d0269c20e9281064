using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Block;

/// <summary>
/// The Threads engine under faults strace produces for real: calls slowed down (<c>delay_enter</c>) so that the
/// caller's Dispose lands while they are queued or running (a request holds the caller's buffer pin and a reference on
/// the file until its blocking call has ended, as a ring request does), and a short write (<c>retval=</c>).
/// </summary>
public class ThreadsEngineFaultTests
{
    private readonly ITestOutputHelper _output;

    public ThreadsEngineFaultTests(ITestOutputHelper output) => _output = output;

    [StraceFact]
    public void A_disposed_buffer_and_file_outlive_the_blocking_calls_that_use_them()
    {
        // when=1: each thread's first pread64 (the runtime's start-up reads are on the main thread).
        var run = Strace.Run(["threads-engine-hold"], ["pread64:delay_enter=300000:when=1", "fdatasync:delay_enter=300000"]);
        _output.WriteLine(run.Describe());
        // The read's pread64 is delayed only if the pool thread reached it before the Dispose (otherwise the read ends
        // with ObjectDisposedException and no pread): either way the buffer must not be freed under the request.
        var delayed = run.Trace.Split('\n').Where(l => l.Contains("(DELAYED)", StringComparison.Ordinal)).ToList();
        Assert.Contains(delayed, l => l.Contains("fdatasync", StringComparison.Ordinal));
        run.AssertPassed();
    }

    [StraceFact]
    public void A_short_direct_write_off_the_alignment_fails_with_ENOSPC()
    {
        // The file is made here: in the child, the runtime's own pwrite64 calls would take the injection.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("short-write", 64 * 1024);
        var run = Strace.Run(["threads-short-direct-write", path], ["pwrite64:retval=100:when=1"]);
        _output.WriteLine(run.Describe());
        Assert.Contains(run.Trace.Split('\n'), l => l.Contains("pwrite64", StringComparison.Ordinal) && l.Contains("(INJECTED)", StringComparison.Ordinal));
        run.AssertPassed();
    }

    [StraceFact(RequiresIoUring = true)]
    public void The_rings_fallocate_makes_no_system_call_and_the_pools_reports_its_errno()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("fallocate", 256 * 1024);
        var run = Strace.Run(["fallocate-ring", path], ["fallocate:error=EIO"]);
        _output.WriteLine(run.Describe());

        // The Threads engine's call and the synchronous one; the ring's made none (it would have failed with EIO).
        run.AssertInjected(atLeast: 2, contains: "fallocate");
        run.AssertPassed();
    }
}
