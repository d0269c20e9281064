using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// Notifies coalesce: while the loop has not taken the last one, further ones write no eventfd (one write wakes it, and
/// it runs everyone's work before it sleeps again). An outer loop's Prepare, which sleeps without looking at the flag,
/// clears it first, so the Notify after it always writes. (That no wake-up is lost under concurrent producers is
/// CrossThreadTests' handshake test.)
/// </summary>
public class NotifyCoalescingTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Notifies_to_a_sleeping_loop_write_the_eventfd_once_until_it_takes_them(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);

        // An outer loop's Prepare announces the sleep (the loop itself would be inside its wait, out of reach).
        ctx.Source.Prepare(out _);
        var before = ctx.Statistics;
        for (int i = 0; i < 100; i++)
        {
            ctx.Notify();
        }

        var after = ctx.Statistics;
        Assert.Equal(before.Notifies + 100, after.Notifies);
        Assert.Equal(before.NotifyWrites + 1, after.NotifyWrites);

        // Taken: the next sleep's first Notify writes again.
        ctx.Source.Check();
        ctx.Source.Dispatch();
        ctx.Source.Prepare(out _);
        ctx.Notify();
        ctx.Notify();
        Assert.Equal(after.NotifyWrites + 1, ctx.Statistics.NotifyWrites);
        ctx.Source.Check();
        ctx.Source.Dispatch();
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_notify_while_nobody_sleeps_does_not_silence_the_one_after_an_outer_prepare(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        ctx.Source.Prepare(out _);
        ctx.Source.Check();
        ctx.Source.Dispatch();

        // Between two outer iterations nobody sleeps: this one only sets the flag, and nothing clears it yet.
        ctx.Notify();
        var before = ctx.Statistics;
        Assert.Equal(before.NotifyWrites, ctx.Statistics.NotifyWrites);

        // The outer loop is about to sleep, without looking at the flag: this Notify must reach it.
        Assert.False(ctx.Source.Prepare(out int timeoutMs));
        Assert.NotEqual(0, timeoutMs);
        ctx.Notify();
        Assert.Equal(before.NotifyWrites + 1, ctx.Statistics.NotifyWrites);
        ctx.Source.Check();
        ctx.Source.Dispatch();
    }
}
