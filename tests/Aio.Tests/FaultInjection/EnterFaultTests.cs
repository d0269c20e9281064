using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>
/// io_uring_enter fails on the home thread (the only thread that enters the ring, so strace's per-thread count is
/// the ring's): interrupted, refused for a while with a full SQ, out of memory.
/// </summary>
public class EnterFaultTests : FaultTest
{
    public EnterFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    /// <summary>Every other enter from the third on is interrupted: submissions (AddSqe batches, SubmitAsync, ReadAsync) and waits.</summary>
    [StraceFact(RequiresIoUring = true)]
    public void Interrupted_io_uring_enter_is_retried_and_every_request_completes_exactly_once()
        => Run(["enter-eintr"], ["io_uring_enter:error=EINTR:when=3+2"], atLeast: 5);

    /// <summary>Six enters in a row are interrupted, each after 100 ms (three per blocking wait for a 250 ms timer).</summary>
    [StraceFact(RequiresIoUring = true)]
    public void Interrupted_blocking_waits_keep_their_timer_deadline()
        => Run(["enter-eintr-timer"], ["io_uring_enter:error=EINTR:when=2..7:delay_enter=100000"], atLeast: 6);

    /// <summary>
    /// A burst of 38 refused enters while an 8-entry SQ is full and four foreign threads keep queueing (issue 10
    /// item 11): each request completes exactly once or its AddSqe threw and it never runs.
    /// </summary>
    [StraceTheory(RequiresIoUring = true)]
    [InlineData("EAGAIN")]
    [InlineData("EBUSY")]
    public void Refused_enter_burst_with_a_full_SQ_neither_loses_nor_duplicates_a_request(string errno)
        => Run(["enter-backpressure", errno], [$"io_uring_enter:error={errno}:when=3..40"], atLeast: 10);

    /// <summary>
    /// Every other enter from the third to the sixtieth fails with ENOMEM, hitting both the home thread's batch
    /// submissions inside AddSqe and the loop's (issue 10 item 11): an AddSqe that throws must not have its
    /// request executed, one that returns completes exactly once, and no foreign request is dropped.
    /// </summary>
    [StraceFact(RequiresIoUring = true)]
    public void Out_of_memory_enter_refuses_a_request_or_completes_it_exactly_once()
        => Run(["enter-enomem"], ["io_uring_enter:error=ENOMEM:when=3..60+2"], atLeast: 10);
}
