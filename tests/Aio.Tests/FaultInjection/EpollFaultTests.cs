using Aio.Tests.Support;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>epoll_create1 or epoll_ctl fails.</summary>
public class EpollFaultTests : FaultTest
{
    public EpollFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [StraceFact]
    public void Explicit_epoll_with_failing_epoll_create1_throws_AioException_naming_the_call_and_leaves_nothing()
        => Run(["epoll-explicit", "EMFILE"], ["epoll_create1:error=EMFILE"]);

    /// <summary>Each thread's first epoll_ctl: the new context's registration of its own notifier.</summary>
    [StraceFact]
    public void Explicit_epoll_whose_first_registration_fails_throws_AioException_and_closes_the_epoll_fd()
        => Run(["epoll-ctl-explicit", "ENOSPC"], ["epoll_ctl:error=ENOSPC:when=1"]);

    /// <summary>io_uring_setup fails too, so that auto mode starts on poll(2) and tries epoll past 64 fds.</summary>
    [StraceFact]
    public void Auto_mode_stays_on_poll_and_dispatches_every_handler_when_the_epoll_upgrade_fails()
        => Run(["epoll-upgrade"], ["io_uring_setup:error=ENOSYS", "epoll_create1:error=EMFILE"], injectedInto: "epoll_create1");
}
