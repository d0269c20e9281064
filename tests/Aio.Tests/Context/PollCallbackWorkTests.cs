using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// Busy polling runs user code (poll callbacks) after the iteration computed its timeout and before it announces its
/// sleep. Whatever that code does must not be slept through: work it gives the loop on the loop's own thread (where
/// no Notify is written), or wake-ups a nested iteration inside it accepted on the outer iteration's behalf.
/// </summary>
public class PollCallbackWorkTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Timer_armed_from_another_thread_while_a_poll_callback_polls_nested_bounds_the_sleep(FdMonitorKind kind)
    {
        using var scene = new PollCallbackScene(kind);
        var ctx = scene.Context;
        bool fired = false;
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired = true);
        // The timer's Notify marks the context notified (nobody sleeps yet, so no eventfd write).
        ElsewhereThenNestedPoll(scene, () => timer.ArmAfter(TimeSpan.FromMilliseconds(20)));

        LoopDriver.PollUntil(ctx, () => fired, "the timer armed from another thread during a nested poll");
        Assert.Equal(1, scene.ActionRuns);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Notify_taken_by_a_nested_poll_in_a_poll_callback_still_ends_the_wait(FdMonitorKind kind)
    {
        using var scene = new PollCallbackScene(kind);
        var ctx = scene.Context;
        // A bare wake-up (as a Run token's cancellation sends): no work list shows it once it is accepted.
        ElsewhereThenNestedPoll(scene, ctx.Notify);

        LoopDriver.PollBlockingBounded(ctx, "the Notify a nested poll accepted");
        Assert.Equal(1, scene.ActionRuns);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Bottom_half_scheduled_by_a_poll_callback_runs_without_a_wake_up(FdMonitorKind kind)
    {
        using var scene = new PollCallbackScene(kind);
        var ctx = scene.Context;
        bool ran = false;
        using var bh = ctx.CreateBottomHalf(() => ran = true);

        // On the home thread: scheduling writes no Notify, since the loop is running.
        scene.OnNextPoll(bh.Schedule);
        LoopDriver.PollUntil(ctx, () => ran, "a bottom half a poll callback scheduled");
        Assert.Equal(1, scene.ActionRuns);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_nested_poll_in_a_poll_callback_that_adds_a_handler_to_the_polling_set_leaves_the_outer_poll_intact(FdMonitorKind kind)
    {
        // The outer iteration is walking its busy-polled handlers when the callback's nested iteration dispatches
        // another polled handler, which joins that set: the walk must go on (it threw "collection was modified").
        using var scene = new PollCallbackScene(kind);
        var ctx = scene.Context;
        using var other = new EventNotifier();
        int otherReads = 0;
        ctx.SetEventNotifier(other, e =>
        {
            e.TestAndClear();
            otherReads++;
        }, _ => false);
        bool after = false;
        using var afterwards = ctx.CreateBottomHalf(() => after = true);
        try
        {
            scene.OnNextPoll(() =>
            {
                other.Set();
                LoopDriver.PollUntil(ctx, () => otherReads == 1, "the other handler, in the nested iteration");

                // Work for the outer iteration, which then runs it instead of sleeping (see the bottom-half test above).
                afterwards.Schedule();
            });
            LoopDriver.PollUntil(ctx, () => after, "the outer iteration after the poll callback's nested one");
            Assert.Equal(1, scene.ActionRuns);
            Assert.Equal(1, otherReads);
        }
        finally
        {
            ctx.SetEventNotifier(other, null);
        }
    }

    /// <summary>Inside the next poll: <paramref name="foreign"/> on another thread, then a nested iteration, which accepts the notification it sent.</summary>
    private static void ElsewhereThenNestedPoll(PollCallbackScene scene, Action foreign)
        => scene.OnNextPoll(() =>
        {
            Assert.True(Task.Run(foreign).Wait(Wait.Default), "the other thread's call");
            scene.Context.Poll(false);
        });
}
