using System.Diagnostics;
using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>Deadlines at the edges of the representable: far ones saturate and never fire, negative ones are refused.</summary>
public class TimerLimitTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void ArmAfter_TimeSpan_MaxValue_saturates_and_never_fires(FdMonitorKind monitor)
    {
        using var ctx = MonitorKinds.Create(monitor);
        int fired = 0;
        using var far = ctx.CreateTimer(AioClock.Monotonic, () => fired++);
        using var wallFar = ctx.CreateTimer(AioClock.WallClock, () => fired++);
        far.ArmAfter(TimeSpan.MaxValue);
        wallFar.ArmAfter(TimeSpan.MaxValue);
        Assert.Equal(long.MaxValue, far.ExpireNs);
        Assert.Equal(long.MaxValue, wallFar.ExpireNs);

        // Long but representable delays are exact, and saturate only where now + delay would overflow.
        long before = ctx.Now(AioClock.Monotonic);
        far.ArmAfter(TimeSpan.FromDays(365 * 100));
        Assert.InRange(far.ExpireNs - before, TimeSpan.FromDays(365 * 100).Ticks * 100, TimeSpan.FromDays(365 * 101).Ticks * 100);
        wallFar.ArmAfter(TimeSpan.FromDays(365 * 250));
        Assert.Equal(long.MaxValue, wallFar.ExpireNs);
        far.ArmAfter(TimeSpan.MaxValue);

        AssertNeverFiresAndBlockingPollSleeps(ctx, () => fired);
        Assert.True(far.IsPending);
        Assert.True(wallFar.IsPending);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void ArmAt_the_largest_deadline_never_fires_and_a_blocking_Poll_sleeps_until_woken(FdMonitorKind monitor)
    {
        using var ctx = MonitorKinds.Create(monitor);
        int fired = 0;
        using var far = ctx.CreateTimer(AioClock.Monotonic, () => fired++);
        using var wallFar = ctx.CreateTimer(AioClock.WallClock, () => fired++);
        far.ArmAt(long.MaxValue);
        wallFar.ArmAt(long.MaxValue - 1);
        AssertNeverFiresAndBlockingPollSleeps(ctx, () => fired);
        Assert.Equal(long.MaxValue, far.ExpireNs);
        Assert.Equal(long.MaxValue - 1, wallFar.ExpireNs);
    }

    [Fact]
    public void A_negative_delay_or_deadline_is_refused_and_leaves_the_timer_as_it_was()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => { });
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.ArmAfter(TimeSpan.FromTicks(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.ArmAfter(TimeSpan.MinValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.ArmAt(long.MinValue));
        Assert.False(timer.IsPending);
        timer.ArmAfter(TimeSpan.FromHours(1));
        long deadline = timer.ExpireNs;
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.ArmAfter(TimeSpan.FromTicks(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.ArmAt(-1));
        Assert.Equal(deadline, timer.ExpireNs);
    }

    /// <summary>
    /// Non-blocking polls do not fire it; a blocking Poll sleeps (the far deadline does not become an overflowed or
    /// expired kernel timeout) until another thread, which waits to see the loop thread asleep, wakes it.
    /// </summary>
    private static void AssertNeverFiresAndBlockingPollSleeps(AioContext ctx, Func<int> fired)
    {
        for (int i = 0; i < 3; i++)
        {
            Assert.False(ctx.Poll(false));
        }

        Assert.Equal(0, fired());
        int tid = Libc.GetTid();
        for (int i = 0; i < 3; i++)
        {
            long notifiedAt = long.MaxValue;
            var waker = Task.Run(() =>
            {
                Wait.Until(() => ThreadStates.IsSleeping(tid), () => Thread.Yield(), "the loop thread to sleep");
                Volatile.Write(ref notifiedAt, Stopwatch.GetTimestamp());
                ctx.Notify();
            });
            bool progress = LoopDriver.PollBlockingBounded(ctx, "a Notify from another thread");
            long returnedAt = Stopwatch.GetTimestamp();
            Wait.For(waker, "the waker");

            // If Poll came back on its own, the waker saw this thread asleep in Wait.For only afterwards.
            Assert.True(returnedAt >= Volatile.Read(ref notifiedAt), "the blocking Poll returned before anything woke it");
            Assert.False(progress, "the far timer fired");
        }

        Assert.Equal(0, fired());
    }
}
