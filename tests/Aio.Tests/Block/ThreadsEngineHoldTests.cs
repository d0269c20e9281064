using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Block;

/// <summary>
/// The Threads engine holds what a ring request holds (the caller's buffer pin, a reference on the file) until its
/// blocking call has ended: strace slows the calls down (<c>delay_enter</c>) so that the caller's Dispose lands while
/// they are queued or running.
/// </summary>
public class ThreadsEngineHoldTests
{
    private readonly ITestOutputHelper _output;

    public ThreadsEngineHoldTests(ITestOutputHelper output) => _output = output;

    [StraceFact]
    public void A_disposed_buffer_and_file_outlive_the_blocking_calls_that_use_them()
    {
        // when=1: each thread's first pread64 (the runtime's start-up reads are on the main thread).
        var run = Strace.Run(["threads-engine-hold"], ["pread64:delay_enter=300000:when=1", "fdatasync:delay_enter=300000"]);
        _output.WriteLine(run.Describe());
        var delayed = run.Trace.Split('\n').Where(l => l.Contains("(DELAYED)", StringComparison.Ordinal)).ToList();
        Assert.Contains(delayed, l => l.Contains("pread64", StringComparison.Ordinal) && l.Contains("262144", StringComparison.Ordinal));
        Assert.Contains(delayed, l => l.Contains("fdatasync", StringComparison.Ordinal));
        run.AssertPassed();
    }
}
