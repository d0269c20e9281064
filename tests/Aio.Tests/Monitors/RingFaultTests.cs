using Aio.Tests.FaultInjection;
using Aio.Tests.Support;
using Xunit.Abstractions;

namespace Aio.Tests.Monitors;

/// <summary>
/// Real kernel faults on the ring's system calls (strace -e inject= in a child process; the scenarios are in
/// Aio.TestHelper/RingScenarios.cs). strace counts invocations per thread; the loop runs on the child's main thread.
/// </summary>
public class RingFaultTests : FaultTest
{
    public RingFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [StraceFact(RequiresIoUring = true)]
    public void A_burst_of_EAGAIN_from_io_uring_enter_neither_loses_nor_duplicates_a_request()
        => Run(["ring-backpressure"], ["io_uring_enter:error=EAGAIN:when=20..60"]);

    [StraceFact(RequiresIoUring = true)]
    public void A_burst_of_EBUSY_from_io_uring_enter_neither_loses_nor_duplicates_a_request()
        => Run(["ring-backpressure"], ["io_uring_enter:error=EBUSY:when=20..60"]);

    [StraceFact(RequiresIoUring = true)]
    public void ENOMEM_from_io_uring_enter_refuses_a_home_request_with_nothing_left_behind_and_loses_no_foreign_one()
        => Run(["ring-backpressure"], ["io_uring_enter:error=ENOMEM:when=20+7"]);

    [StraceFact(RequiresIoUring = true)]
    public void A_transient_ENABLE_RINGS_failure_is_reported_and_retried_by_the_next_Poll()
        => Run(["ring-enable-retry"], ["io_uring_register:error=ENOMEM:when=2"]);

    [StraceFact(RequiresIoUring = true)]
    public void An_interrupted_ENABLE_RINGS_is_retried()
        => Run(["ring-enable-eintr"], ["io_uring_register:error=EINTR:when=2"]);

    [StraceFact(RequiresIoUring = true)]
    public void A_request_completion_reaped_while_making_room_in_the_wait_is_delivered_without_sleeping()
        => Run(["ring-collected"], ["io_uring_enter:error=EAGAIN:when=4"]);

    [StraceFact(RequiresIoUring = true)]
    public void A_poll_completion_reaped_while_making_room_keeps_the_next_blocking_Poll_from_sleeping()
        => Run(["ring-orphan"], ["io_uring_enter:error=EAGAIN:when=2"]);

    [StraceFact(RequiresIoUring = true)]
    public void Interrupted_io_uring_waits_last_as_long_as_asked_and_requests_still_complete()
        => Run(["ring-eintr"], ["io_uring_enter:error=EINTR:when=1+2"]);
}
