using System.Diagnostics.Tracing;
using Aio.Diagnostics;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Diagnostics;

/// <summary>
/// With nobody listening to the event source, the stall watchdog's timer parks after one pass instead of waking the
/// process ten times a second; a listener that enables the source, or a context's Warning subscriber, restarts it.
/// </summary>
[Collection(ProcessStateCollection.Name)]
public sealed class LoopStallWatchdogParkingTests
{
    [Fact]
    public void The_watchdog_parks_while_nobody_listens_and_a_listener_restarts_it()
    {
        using var io = IoThread.Start("parking-" + Guid.NewGuid().ToString("N"), new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(50) });
        WaitUntilParked("the watchdog to park with no listener (is a listener left enabled?)");

        using (var listener = new WarningListener())
        {
            Assert.False(LoopStallWatchdog.IsParked, "enabling the source did not restart the watchdog");
            long target = LoopStallWatchdog.Samples + 3;
            Wait.Until(() => LoopStallWatchdog.Samples >= target, () => Thread.Sleep(5), "sampling passes while a listener listens");
            Assert.False(LoopStallWatchdog.IsParked, "the watchdog parked while a listener listens");
        }

        WaitUntilParked("the watchdog to park again once the listener is gone");
    }

    [Fact]
    public void A_context_warning_subscriber_restarts_it_and_it_parks_again_once_the_subscriber_is_gone()
    {
        using var io = IoThread.Start("parking-sub-" + Guid.NewGuid().ToString("N"), new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(50) });
        WaitUntilParked("the watchdog to park with no listener (is a listener or subscriber left?)");

        Action<AioContext, AioWarning> handler = (_, _) => { };
        io.Context.Warning += handler;
        Assert.False(LoopStallWatchdog.IsParked, "subscribing to Warning did not restart the watchdog");
        long target = LoopStallWatchdog.Samples + 3;
        Wait.Until(() => LoopStallWatchdog.Samples >= target, () => Thread.Sleep(5), "sampling passes while a context has a subscriber");
        Assert.False(LoopStallWatchdog.IsParked, "the watchdog parked while a context has a Warning subscriber");

        io.Context.Warning -= handler;
        WaitUntilParked("the watchdog to park again once the subscriber is gone");
    }

    /// <summary>Waits for the watchdog to park; failing, names the live contexts that keep it sampling with a Warning subscriber.</summary>
    private static void WaitUntilParked(string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!LoopStallWatchdog.IsParked)
        {
            if (sw.Elapsed > Wait.Default)
            {
                var subscribed = ContextRegistry.Live.Where(c => c.HasWarningSubscribers).Select(c => c.Name);
                Assert.Fail($"Timed out after {Wait.Default.TotalSeconds:0.#} s waiting for {what}; live contexts with Warning subscribers: [{string.Join(", ", subscribed)}].");
            }

            Thread.Sleep(5);
        }
    }

    private sealed class WarningListener : EventListener
    {
        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Warning);
            }
        }
    }
}
