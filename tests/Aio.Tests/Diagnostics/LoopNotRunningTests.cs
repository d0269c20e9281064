using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Diagnostics;

public class LoopNotRunningTests
{
    [IoUringFact]
    public void A_ring_request_on_a_loop_nobody_runs_is_reported_and_still_completes_once_somebody_does()
    {
        using var events = new Collector();
        using var ctx = Create(TimeSpan.FromMilliseconds(20));
        var nop = ctx.SubmitAsync(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0);
        Wait.Until(() => ctx.LoopWatchChecks == 1, () => Thread.Sleep(1), "the watch to look");
        var warning = Assert.Single(events.For(ctx.Name));
        Assert.Equal(EventLevel.Warning, warning.Level);
        Assert.Contains("nobody runs this loop", string.Format(warning.Message!, [.. warning.Payload!]));

        // Submitting first and running the loop later is legal: the request completes.
        Assert.Equal(0, ctx.RunUntil(nop));
    }

    [IoUringFact]
    public void A_loop_that_starts_in_time_is_not_reported()
    {
        // A second: time enough for this thread to reach RunUntil however it is preempted (the watch then looks once).
        using var events = new Collector();
        using var ctx = Create(TimeSpan.FromSeconds(1));
        Assert.Equal(0, ctx.RunUntil(ctx.SubmitAsync(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0)));
        Wait.Until(() => ctx.LoopWatchChecks == 1, () => Thread.Sleep(1), "the watch to look");
        Assert.Empty(events.For(ctx.Name));
    }

    [IoUringFact]
    public void Requests_to_a_loop_that_runs_start_no_watch()
    {
        using var io = IoThread.Start("watched-" + Guid.NewGuid().ToString("N"));
        for (int i = 0; i < 3; i++)
        {
            Wait.For(io.Context.SubmitAsync(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0).AsTask(), "a nop on the IoThread");
        }

        Assert.False(io.Context.LoopWatchStarted);
    }

    private static AioContext Create(TimeSpan delay)
        => AioContext.Create(new AioContextOptions { Name = "unrun-" + Guid.NewGuid().ToString("N"), LoopNotRunningDelay = delay });

    private sealed class Collector : EventListener
    {
        private readonly ConcurrentQueue<EventWrittenEventArgs> _events = new();

        public IEnumerable<EventWrittenEventArgs> For(string context)
            => _events.Where(e => e.EventName == "LoopNotRunning" && (string?)e.Payload![0] == context);

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Verbose);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e) => _events.Enqueue(e);
    }
}
