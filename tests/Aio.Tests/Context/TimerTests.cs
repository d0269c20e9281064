using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class TimerTests
{
    [Fact]
    public void A_timer_rearmed_into_the_past_by_its_callback_fires_once_per_iteration_not_endlessly()
    {
        using var ctx = AioContext.Create();
        int fired = 0;
        int bottomHalves = 0;
        AioTimer? timer = null;
        timer = ctx.CreateTimer(AioClock.Monotonic, () =>
        {
            // Bounded so that a regression fails the assertions below instead of spinning the pass forever.
            if (++fired < 1000)
            {
                timer!.ArmAt(0);
            }
        });
        timer.ArmAt(0);
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, fired);

        // The next iteration sees it expired at once (it does not sleep), and work queued meanwhile is not starved.
        ctx.ScheduleOneShot(() => bottomHalves++);
        Assert.True(ctx.Poll(true));
        Assert.Equal(1, bottomHalves);
        Assert.Equal(2, fired);
        timer.Dispose();
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Timer_fires_no_earlier_than_its_deadline_and_can_rearm(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        const long Period = 750_000_000;
        int fired = 0;
        long secondDeadline = 0;
        AioTimer? timer = null;
        timer = ctx.CreateTimer(AioClock.Monotonic, () =>
        {
            fired++;
            if (fired == 1)
            {
                secondDeadline = ctx.Now(AioClock.Monotonic) + Period;
                timer!.ArmAt(secondDeadline);
            }
        });
        long firstDeadline = ctx.Now(AioClock.Monotonic) + Period;
        timer.ArmAt(firstDeadline);
        Assert.True(timer.IsPending);
        Assert.Equal(firstDeadline, timer.ExpireNs);
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, fired);

        // The scenario, not synchronisation: time passes while nobody polls, and nothing fires by itself.
        Thread.Sleep(1000);
        Assert.Equal(0, fired);
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, fired);
        Assert.True(timer.IsPending);

        Assert.True(LoopDriver.PollBlockingBounded(ctx, "the re-armed timer"));
        Assert.True(ctx.Now(AioClock.Monotonic) >= secondDeadline, "fired before its deadline");
        Assert.Equal(2, fired);
        Assert.False(timer.IsPending);
        Assert.Equal(-1, timer.ExpireNs);
        timer.Dispose();
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Blocking_poll_sleeps_until_a_short_timer(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int fired = 0;
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired++);
        long deadline = ctx.Now(AioClock.Monotonic) + 300_000;   // 300 µs: below epoll_wait's millisecond
        timer.ArmAt(deadline);
        LoopDriver.PollUntil(ctx, () => fired == 1, "a 300 µs timer");
        Assert.True(ctx.Now(AioClock.Monotonic) >= deadline);
        Assert.Equal(1, fired);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Equal_deadlines_fire_in_arming_order_and_cancel_works(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var order = new List<int>();
        long deadline = ctx.Now(AioClock.Monotonic) + 1_000_000;
        var timers = Enumerable.Range(0, 4).Select(i => ctx.CreateTimer(AioClock.Monotonic, () => order.Add(i))).ToArray();
        foreach (var t in timers)
        {
            t.ArmAt(deadline);
        }

        timers[2].Cancel();
        LoopDriver.PollUntil(ctx, () => order.Count == 3, "three timers");
        Assert.Equal([0, 1, 3], order);
        Assert.False(timers[2].IsPending);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Wall_clock_timer_fires(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int fired = 0;
        using var timer = ctx.CreateTimer(AioClock.WallClock, () => fired++);
        long now = ctx.Now(AioClock.WallClock);
        Assert.InRange(now, DateTimeOffset.UtcNow.AddSeconds(-5).ToUnixTimeMilliseconds() * 1_000_000, DateTimeOffset.UtcNow.AddSeconds(5).ToUnixTimeMilliseconds() * 1_000_000);
        timer.ArmAfter(TimeSpan.FromMilliseconds(5));
        LoopDriver.PollUntil(ctx, () => fired == 1, "a wall-clock timer");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Arming_earlier_from_another_thread_wakes_the_sleeping_loop(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int fired = 0;
        using var far = ctx.CreateTimer(AioClock.Monotonic, () => { });
        using var near = ctx.CreateTimer(AioClock.Monotonic, () => fired++);
        far.ArmAfter(TimeSpan.FromHours(1));
        using var loopIsAsleep = new ManualResetEventSlim();
        ctx.ScheduleOneShot(loopIsAsleep.Set);
        Assert.True(ctx.Poll(false));
        var arm = Task.Run(() =>
        {
            Assert.True(loopIsAsleep.Wait(Wait.Default));
            near.ArmAfter(TimeSpan.FromMilliseconds(1));
        });
        LoopDriver.PollUntil(ctx, () => fired == 1, "the timer armed from another thread", TimeSpan.FromSeconds(10));
        Wait.For(arm, "the arming thread");
    }

    [Fact]
    public void An_arm_racing_a_Dispose_on_another_thread_never_leaves_the_disposed_timer_pending()
    {
        // ArmAt checked the timer's disposal, then took the list's lock: a Dispose in between removed nothing, and the
        // arm then inserted the disposed timer, pending for good (the loop woke for it and skipped it when it popped).
        const int Rounds = 20_000;
        using var ctx = AioContext.Create();
        AioTimer? timer = null;
        using var go = new Barrier(2);
        int leftPending = 0;
        var disposer = new Thread(() =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                go.SignalAndWait();
                timer!.Dispose();
                go.SignalAndWait();
            }
        }) { IsBackground = true };
        disposer.Start();
        for (int i = 0; i < Rounds; i++)
        {
            timer = ctx.CreateTimer(AioClock.Monotonic, () => { });
            go.SignalAndWait();
            try
            {
                timer.ArmAt(long.MaxValue);
            }
            catch (ObjectDisposedException)
            {
            }

            go.SignalAndWait();
            leftPending += timer.IsPending ? 1 : 0;
        }

        Wait.Join(disposer, "the disposing thread");
        Assert.True(leftPending == 0, $"{leftPending} of {Rounds} disposed timers left pending by an arm that raced the Dispose");
    }
}
