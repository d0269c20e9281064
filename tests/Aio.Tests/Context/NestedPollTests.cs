using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class NestedPollTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Nested_poll_from_an_fd_handler_dispatches_other_handlers(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var outer = new EventNotifier();
        using var inner = new EventNotifier();
        int innerRuns = 0;
        bool nestedProgress = false;
        ctx.SetEventNotifier(inner, e =>
        {
            Assert.True(e.TestAndClear());
            innerRuns++;
        });
        ctx.SetEventNotifier(outer, e =>
        {
            Assert.True(e.TestAndClear());
            inner.Set();
            nestedProgress = ctx.Poll(false);
        });
        outer.Set();
        Assert.True(ctx.Poll(false));
        Assert.True(nestedProgress);
        Assert.Equal(1, innerRuns);
        Assert.False(ctx.Poll(false));
        ctx.SetEventNotifier(outer, null);
        ctx.SetEventNotifier(inner, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Nested_poll_from_a_bottom_half(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int fdRuns = 0;
        ctx.SetEventNotifier(e, en =>
        {
            Assert.True(en.TestAndClear());
            fdRuns++;
        });
        ctx.ScheduleOneShot(() =>
        {
            e.Set();
            Assert.True(ctx.Poll(false));
            Assert.Equal(1, fdRuns);
        });
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, fdRuns);
        Assert.False(ctx.Poll(false));
        ctx.SetEventNotifier(e, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Handler_removed_by_another_in_the_same_dispatch_is_not_called(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var a = new EventNotifier();
        using var b = new EventNotifier();
        int baseline = ctx.HandlerCount;
        int aRuns = 0;
        int bRuns = 0;
        ctx.SetEventNotifier(a, e =>
        {
            aRuns++;
            e.TestAndClear();
            ctx.SetEventNotifier(b, null);
        });
        ctx.SetEventNotifier(b, e =>
        {
            bRuns++;
            e.TestAndClear();
            ctx.SetEventNotifier(a, null);
        });
        a.Set();
        b.Set();
        Assert.True(ctx.Poll(false));

        // Whichever ran first removed the other before its turn.
        Assert.Equal(1, aRuns + bRuns);
        Assert.False(ctx.Poll(false));
        Assert.Equal(baseline + 1, ctx.HandlerCount);
        Assert.Equal(0, ctx.DeletedHandlerCount);
        ctx.SetEventNotifier(a, null);
        ctx.SetEventNotifier(b, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Ready_handler_is_not_dispatched_twice_by_overlapping_loops(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var first = new EventNotifier();
        using var second = new EventNotifier();
        int secondRuns = 0;
        int firstRuns = 0;
        ctx.SetEventNotifier(first, e =>
        {
            firstRuns++;
            e.TestAndClear();
            if (firstRuns == 1)
            {
                // The outer loop holds 'second' as ready (both were set); the nested loop takes it over.
                ctx.Poll(false);
            }
        });
        ctx.SetEventNotifier(second, e =>
        {
            secondRuns++;
            e.TestAndClear();
        });
        first.Set();
        second.Set();
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, firstRuns);
        Assert.Equal(1, secondRuns);
        ctx.SetEventNotifier(first, null);
        ctx.SetEventNotifier(second, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Handler_removed_during_nested_dispatch_is_reclaimed_by_the_outermost_loop(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var outer = new EventNotifier();
        using var victim = new EventNotifier();
        int baseline = ctx.HandlerCount;
        int deletedSeenInside = -1;
        ctx.SetEventNotifier(victim, e => e.TestAndClear());
        ctx.SetEventNotifier(outer, e =>
        {
            e.TestAndClear();
            ctx.SetEventNotifier(victim, null);
            ctx.Poll(false);
            deletedSeenInside = ctx.DeletedHandlerCount;
        });
        outer.Set();
        Assert.True(ctx.Poll(false));
        Assert.True(deletedSeenInside >= 1, "a nested loop must not reclaim what the outer one may be walking");
        ctx.SetEventNotifier(outer, null);
        ctx.Poll(false);
        Assert.Equal(baseline, ctx.HandlerCount);
        Assert.Equal(0, ctx.DeletedHandlerCount);
    }
    /// <summary>
    /// A busy-poll callback that runs a nested iteration lets it take the notifications that arrived meanwhile (the
    /// nested iteration accepts them). A timer armed from another thread in that window must still bound the outer
    /// iteration's sleep, which had computed its timeout before the timer existed.
    /// </summary>
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Timer_armed_while_a_poll_callback_polls_nested_still_bounds_the_sleep(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind, pollMaxNs: 10_000_000);
        using var e = new EventNotifier();
        int reads = 0;
        int polls = 0;
        bool armNow = false;
        int nestedRuns = 0;
        bool fired = false;
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired = true);
        ctx.SetEventNotifier(
            e,
            en =>
            {
                en.TestAndClear();
                reads++;
            },
            _ =>
            {
                polls++;
                if (armNow)
                {
                    armNow = false;

                    // Another thread arms the timer: its Notify marks the context notified (nobody sleeps yet, so no
                    // eventfd write); the nested iteration then accepts that notification.
                    Assert.True(Task.Run(() => timer.ArmAfter(TimeSpan.FromMilliseconds(20))).Wait(Wait.Default), "arming the timer");
                    ctx.Poll(false);
                    nestedRuns++;
                }

                return false;
            });

        // A dispatch with a short block gives the handler a polling window; a wait for a timer then busy-polls it
        // before it sleeps.
        using var tick = ctx.CreateTimer(AioClock.Monotonic, () => { });
        for (int i = 0; polls == 0; i++)
        {
            Assert.True(i < 1_000, "the handler never got a polling window");
            e.Set();
            LoopDriver.PollUntil(ctx, () => reads == i + 1, "the read handler");
            tick.ArmAfter(TimeSpan.FromMilliseconds(0.2));
            LoopDriver.PollBlockingBounded(ctx, "the tick");
        }

        armNow = true;
        LoopDriver.PollUntil(ctx, () => fired, "the timer armed from another thread during a nested poll");
        Assert.Equal(1, nestedRuns);
        ctx.SetEventNotifier(e, null);
    }
}
