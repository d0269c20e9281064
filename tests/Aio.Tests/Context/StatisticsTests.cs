using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class StatisticsTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Counters_move_as_documented(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var s0 = ctx.Statistics;
        ctx.Poll(false);
        var s0b = ctx.Statistics;
        Task.Run(() =>
        {
            ctx.ScheduleOneShot(() => { });
            ctx.ScheduleOneShot(() => { });
        }).Wait(Wait.Default);
        Assert.True(ctx.Poll(false));
        var s1 = ctx.Statistics;
        Assert.Equal(s0.Iterations + 2, s1.Iterations);
        Assert.Equal(s0.BottomHalvesRun + 2, s1.BottomHalvesRun);
        Assert.True(s1.Notifies >= s0b.Notifies + 2, "each schedule from another thread notifies");
        Assert.Equal(s0.NotifyWrites, s1.NotifyWrites);

        using var e = new EventNotifier();
        ctx.SetEventNotifier(e, en => en.TestAndClear());
        e.Set();
        Assert.True(ctx.Poll(false));
        var s2 = ctx.Statistics;
        Assert.Equal(s1.FdCallbacks + 1, s2.FdCallbacks);

        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => { });
        timer.ArmAfter(TimeSpan.FromMilliseconds(50));
        LoopDriver.PollUntil(ctx, () => ctx.Statistics.TimersFired == s2.TimersFired + 1, "the timer");
        var s3 = ctx.Statistics;
        Assert.True(s3.BlockingWaits > s2.BlockingWaits, "the loop slept until the timer");

        // Notify while the loop sleeps must write the eventfd. A Notify that lands before the loop sleeps only sets the
        // flag (the loop then does not sleep), so the notifier keeps notifying and the loop keeps polling until a write
        // was counted; a wake-up is never progress.
        int stop = 0;
        var t = Task.Run(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                ctx.Notify();
                Thread.Yield();
            }
        });
        Wait.Until(() => ctx.Statistics.NotifyWrites > s3.NotifyWrites, () => Assert.False(LoopDriver.PollBlockingBounded(ctx, "a notify")), "a Notify to write the eventfd of the sleeping loop");
        Volatile.Write(ref stop, 1);
        Wait.For(t, "the notifier thread");
        Assert.True(ctx.Statistics.NotifyWrites > s3.NotifyWrites);
        ctx.SetEventNotifier(e, null);
    }
}
