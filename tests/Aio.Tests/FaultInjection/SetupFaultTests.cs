using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>io_uring_setup fails (ENOMEM: RLIMIT_MEMLOCK on old kernels, memory cgroup; EMFILE: fd table full).</summary>
public class SetupFaultTests : FaultTest
{
    public SetupFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [StraceTheory(RequiresIoUring = true)]
    [InlineData("ENOMEM")]
    [InlineData("EMFILE")]
    public void Failing_io_uring_setup_falls_back_to_a_working_poll_context_and_reports_the_fallback(string errno)
        => Run(["setup-fallback", errno], [$"io_uring_setup:error={errno}"]);

    [StraceTheory(RequiresIoUring = true)]
    [InlineData("ENOMEM")]
    [InlineData("EMFILE")]
    public void Explicit_io_uring_with_failing_io_uring_setup_throws_AioException_naming_the_call(string errno)
        => Run(["setup-explicit", errno], [$"io_uring_setup:error={errno}"]);

    /// <summary>
    /// An outer loop's first Prepare swaps a DEFER_TASKRUN ring for one it can sleep on; io_uring_setup refuses the new
    /// one (the thread's second call on): the context stays on its ring with short outer sleeps instead of throwing from
    /// every Prepare (which made GLib spin).
    /// </summary>
    [StraceFact(RequiresIoUring = true)]
    public void A_refused_ring_swap_for_an_outer_loop_keeps_the_ring_and_short_sleeps()
        => Run(["outer-swap-refused"], ["io_uring_setup:error=EMFILE:when=2+"], injectedInto: "io_uring_setup");
}
