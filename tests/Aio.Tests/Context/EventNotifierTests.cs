using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>QEMU test-aio event-notifier expectations, for every monitor.</summary>
public class EventNotifierTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Registered_but_not_set_is_no_progress(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int n = 0;
        ctx.SetEventNotifier(e, _ => n++);
        Assert.False(ctx.Poll(false));
        ctx.SetEventNotifier(e, null);
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, n);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Set_notifier_dispatches_once_and_never_spuriously(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int n = 0;
        ctx.SetEventNotifier(e, en =>
        {
            Assert.True(en.TestAndClear(), "dispatched while not set");
            n++;
        });
        Assert.False(ctx.Poll(false));
        e.Set();
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, n);
        Assert.False(ctx.Poll(false));
        Assert.Equal(1, n);
        ctx.SetEventNotifier(e, null);
        Assert.False(ctx.Poll(false));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Unrelated_second_notifier_does_not_disturb(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        using var other = new EventNotifier();
        int n = 0;
        int otherN = 0;
        ctx.SetEventNotifier(e, en =>
        {
            Assert.True(en.TestAndClear());
            n++;
        });
        ctx.SetEventNotifier(other, en =>
        {
            en.TestAndClear();
            otherN++;
        });
        for (int i = 1; i <= 5; i++)
        {
            e.Set();
            Assert.True(i % 2 == 0 ? ctx.Poll(false) : LoopDriver.PollBlockingBounded(ctx, "the set notifier"));
            Assert.Equal(i, n);
            Assert.False(ctx.Poll(false));
        }

        Assert.Equal(0, otherN);
        ctx.SetEventNotifier(e, null);
        ctx.SetEventNotifier(other, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Handler_that_resets_its_notifier_runs_until_the_counter_is_zero(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int counter = 10;
        int runs = 0;
        ctx.SetEventNotifier(e, en =>
        {
            Assert.True(en.TestAndClear());
            runs++;
            if (--counter > 0)
            {
                en.Set();
            }
        });
        e.Set();
        while (counter > 0)
        {
            int before = runs;
            Assert.True(ctx.Poll(false));
            Assert.Equal(before + 1, runs);
        }

        Assert.False(ctx.Poll(false));
        Assert.Equal(10, runs);
        ctx.SetEventNotifier(e, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Level_triggered_undrained_notifier_is_dispatched_again(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int n = 0;
        ctx.SetEventNotifier(e, _ => n++);
        e.Set();
        for (int i = 1; i <= 3; i++)
        {
            Assert.True(ctx.Poll(false));
            Assert.Equal(i, n);
        }

        Assert.True(e.TestAndClear());
        Assert.False(ctx.Poll(false));
        Assert.Equal(3, n);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Writable_handler_runs_on_a_socket_with_room(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var pair = new SocketPair();
        int writable = 0;
        int readable = 0;
        ctx.SetFdHandler(pair.A, null, () => writable++);
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, writable);
        ctx.SetFdHandler(pair.A, () => readable++, null);
        Assert.False(ctx.Poll(false));
        pair.WriteB([1, 2, 3]);
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, readable);
        Assert.Equal(1, writable);
        ctx.RemoveFdHandler(pair.A);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Registering_twice_replaces_the_callbacks(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int first = 0;
        int second = 0;
        ctx.SetEventNotifier(e, en => { en.TestAndClear(); first++; });
        ctx.SetEventNotifier(e, en => { en.TestAndClear(); second++; });
        e.Set();
        Assert.True(ctx.Poll(false));
        Assert.Equal(0, first);
        Assert.Equal(1, second);
        ctx.SetEventNotifier(e, null);
    }
}
