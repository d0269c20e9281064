using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>QEMU tests/unit/test-aio.c bottom-half expectations, for every monitor.</summary>
public class BottomHalfTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Scheduled_once_runs_once(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int n = 0;
        using var bh = ctx.CreateBottomHalf(() => n++);
        bh.Schedule();
        Assert.True(bh.IsScheduled);
        Assert.True(LoopDriver.PollBlockingBounded(ctx, "a scheduled bottom half"));
        Assert.Equal(1, n);
        Assert.False(bh.IsScheduled);
        Assert.False(ctx.Poll(false));
        Assert.Equal(1, n);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Self_rescheduling_runs_once_per_iteration(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int n = 0;
        BottomHalf? bh = null;
        bh = ctx.CreateBottomHalf(() =>
        {
            if (++n < 10)
            {
                bh!.Schedule();
            }
        });
        bh.Schedule();
        for (int i = 1; i <= 10; i++)
        {
            Assert.True(i % 2 == 0 ? ctx.Poll(false) : LoopDriver.PollBlockingBounded(ctx, "the rescheduled bottom half"));
            Assert.Equal(i, n);
        }

        Assert.False(ctx.Poll(false));
        Assert.Equal(10, n);
        bh.Dispose();
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Cancelled_bottom_half_never_runs(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int n = 0;
        using var bh = ctx.CreateBottomHalf(() => n++);
        bh.Schedule();
        bh.Cancel();
        Assert.False(bh.IsScheduled);
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, n);

        // Still usable after a cancel.
        bh.Schedule();
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, n);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Deleted_bottom_half_never_runs(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int n = 0;
        var bh = ctx.CreateBottomHalf(() => n++);
        bh.Schedule();
        bh.Dispose();
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, n);
        Assert.Throws<ObjectDisposedException>(bh.Schedule);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Self_deleting_bottom_halves_each_reach_their_limit(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var (limits, counts) = Scenarios.ScheduleSelfDeletingBottomHalves(ctx);
        Assert.True(ctx.Poll(false));
        Assert.Equal([1, 1, 1, 1], counts);
        while (ctx.Poll(false))
        {
        }

        Assert.Equal(limits, counts);
        Assert.False(ctx.Poll(false));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Bottom_halves_run_in_scheduling_order(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var order = new List<int>();
        for (int i = 0; i < 5; i++)
        {
            int me = i;
            ctx.ScheduleOneShot(() => order.Add(me));
        }

        Assert.True(ctx.Poll(false));
        Assert.Equal([0, 1, 2, 3, 4], order);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Scheduled_during_a_batch_runs_next_iteration_without_sleeping(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var order = new List<string>();
        ctx.ScheduleOneShot(() =>
        {
            order.Add("a");
            ctx.ScheduleOneShot(() => order.Add("c"));
        });
        ctx.ScheduleOneShot(() => order.Add("b"));
        Assert.True(ctx.Poll(false));
        Assert.Equal(["a", "b"], order);
        Assert.True(LoopDriver.PollBlockingBounded(ctx, "the bottom half scheduled during the batch"));
        Assert.Equal(["a", "b", "c"], order);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Nested_poll_finishes_the_parent_batch_first(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var order = new List<string>();
        ctx.ScheduleOneShot(() =>
        {
            order.Add("a");
            ctx.ScheduleOneShot(() => order.Add("new"));
            Assert.True(ctx.Poll(false));
            order.Add("a-end");
        });
        ctx.ScheduleOneShot(() => order.Add("b"));
        ctx.ScheduleOneShot(() => order.Add("c"));
        Assert.True(ctx.Poll(false));
        Assert.Equal(["a", "b", "c", "new", "a-end"], order);
        Assert.False(ctx.Poll(false));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Throwing_bottom_half_surfaces_and_the_rest_of_the_batch_still_runs(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        int after = 0;
        ctx.ScheduleOneShot(() => throw new InvalidTimeZoneException("boom"));
        ctx.ScheduleOneShot(() => after++);
        Assert.Throws<InvalidTimeZoneException>(() => ctx.Poll(false));
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, after);
        Assert.False(ctx.Poll(false));
    }
}
