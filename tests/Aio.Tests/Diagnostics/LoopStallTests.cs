using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Aio.Diagnostics;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Diagnostics;

/// <summary>The stalled-loop watchdog: one LoopStalled warning per stall, none for a loop asleep in its wait.</summary>
public sealed class LoopStallTests
{
    [Fact]
    public void A_callback_that_blocks_the_loop_is_reported_once_per_stall()
    {
        using var events = new Collector();
        using var io = Stalls.Start("stalled");
        using var release = new ManualResetEventSlim();
        var blocked = new ManualResetEventSlim();
        bool released = false;
        io.Context.ScheduleOneShot(() =>
        {
            blocked.Set();

            // Bounded: the test sets it once it saw the warning; a missing warning fails below, not by a hang.
            released = release.Wait(TimeSpan.FromSeconds(20));
        });
        Assert.True(blocked.Wait(TimeSpan.FromSeconds(10)), "the blocking callback to start");

        Wait.Until(() => events.For(io.Context.Name).Any(), () => Thread.Sleep(5), "the LoopStalled warning");

        // Still stalled for more passes: no second warning for the same stall.
        Stalls.WaitForSamples(3, "more watchdog passes during the stall");
        release.Set();
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        io.Context.ScheduleOneShot(after.SetResult);
        Wait.For(after.Task, "the loop to run again");
        Assert.True(released, "the callback timed out instead of being released");

        // And none once it is back in its wait.
        Stalls.WaitForSamples(3, "watchdog passes after the stall");
        var warning = Assert.Single(events.For(io.Context.Name));
        Assert.Equal(EventLevel.Warning, warning.Level);
        Assert.True((long)warning.Payload![1]! >= (long)Stalls.Threshold.TotalMilliseconds, $"reported {warning.Payload[1]} ms, under the threshold");
        Assert.Equal((long)Stalls.Threshold.TotalMilliseconds, (long)warning.Payload[2]!);
        Assert.Contains("a callback blocks the loop", string.Format(warning.Message!, [.. warning.Payload]), StringComparison.Ordinal);
        blocked.Dispose();
    }

    [Fact]
    public void Two_stalls_are_two_warnings()
    {
        using var events = new Collector();
        using var io = Stalls.Start("stalled-twice");
        for (int stall = 1; stall <= 2; stall++)
        {
            using var release = new ManualResetEventSlim();
            io.Context.ScheduleOneShot(() => release.Wait(TimeSpan.FromSeconds(20)));
            int expected = stall;
            Wait.Until(() => events.For(io.Context.Name).Count() >= expected, () => Thread.Sleep(5), $"warning {stall}");
            release.Set();
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        io.Context.ScheduleOneShot(done.SetResult);
        Wait.For(done.Task, "the loop to run again");
        Stalls.WaitForSamples(3, "watchdog passes after the stalls");
        Assert.Equal(2, events.For(io.Context.Name).Count());
    }

    [Fact]
    public void An_idle_loop_asleep_in_its_wait_is_not_reported()
    {
        using var events = new Collector();
        using var io = Stalls.Start("idle");

        // A callback that returns at once, then nothing: the loop sleeps in the kernel for passes spanning > 2 thresholds.
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        io.Context.ScheduleOneShot(ran.SetResult);
        Wait.For(ran.Task, "a short callback");
        Stalls.WaitForSamples(6, "watchdog passes over the idle loop");
        Assert.Empty(events.For(io.Context.Name));
    }

    [Fact]
    public void A_context_can_opt_out_and_the_threshold_is_validated()
    {
        using var off = AioContext.Create(new AioContextOptions { LoopStallThreshold = Timeout.InfiniteTimeSpan });
        Assert.Equal(Timeout.InfiniteTimeSpan, off.LoopStallThreshold);
        using var on = AioContext.Create();
        Assert.Equal(TimeSpan.FromMilliseconds(200), on.LoopStallThreshold);
        Assert.Throws<ArgumentOutOfRangeException>(() => AioContext.Create(new AioContextOptions { LoopStallThreshold = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => AioContext.Create(new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(-5) }));
    }

    private sealed class Collector : EventListener
    {
        private readonly ConcurrentQueue<EventWrittenEventArgs> _events = new();

        public IEnumerable<EventWrittenEventArgs> For(string context)
            => _events.Where(e => e.EventName == "LoopStalled" && (string?)e.Payload![0] == context);

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Warning);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e) => _events.Enqueue(e);
    }
}
