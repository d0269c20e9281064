using Aio.Tests.Support;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>eventfd2 fails once (when=1: the first call of the thread), then works again.</summary>
public class EventFdFaultTests : FaultTest
{
    public EventFdFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [StraceFact]
    public void Create_with_failing_eventfd2_throws_AioException_naming_eventfd_leaves_nothing_and_works_again_after()
        => Run(["eventfd-create", "EMFILE"], ["eventfd2:error=EMFILE:when=1"]);

    [StraceFact]
    public void EventNotifier_with_failing_eventfd2_throws_AioException_naming_eventfd_and_works_again_after()
        => Run(["eventfd-notifier", "EMFILE"], ["eventfd2:error=EMFILE:when=1"]);
}
