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
}
