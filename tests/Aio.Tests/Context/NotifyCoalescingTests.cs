using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// Notifies coalesce: while the loop has not taken the last one, further ones write no eventfd (one write wakes it, and
/// it runs everyone's work before it sleeps again). An outer loop's Prepare, which sleeps without looking at the flag,
/// clears it first, so the Notify after it always writes. Under a concurrent producer, no wake-up is lost in either
/// kind of loop (the native loop's own stress is CrossThreadTests' handshake test).
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
        EndOuterIteration(ctx);
        ctx.Source.Prepare(out _);
        ctx.Notify();
        ctx.Notify();
        Assert.Equal(after.NotifyWrites + 1, ctx.Statistics.NotifyWrites);
        EndOuterIteration(ctx);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_notify_while_nobody_sleeps_does_not_silence_the_one_after_an_outer_prepare(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        ctx.Source.Prepare(out _);
        EndOuterIteration(ctx);

        // Between two outer iterations nobody sleeps: this one only sets the flag, and nothing clears it yet.
        var before = ctx.Statistics;
        ctx.Notify();
        Assert.Equal(before.NotifyWrites, ctx.Statistics.NotifyWrites);

        // The outer loop is about to sleep, without looking at the flag: this Notify must reach it.
        Assert.False(ctx.Source.Prepare(out int timeoutMs));
        Assert.NotEqual(0, timeoutMs);
        ctx.Notify();
        Assert.Equal(before.NotifyWrites + 1, ctx.Statistics.NotifyWrites);
        EndOuterIteration(ctx);
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void An_outer_loop_never_sleeps_through_work_handed_over_from_another_thread(bool glib, FdMonitorKind kind)
    {
        // A producer hands over two bottom halves per step, the second after a short varying pause, and waits for both
        // to run: the first often lands while the outer loop dispatches (no sleeper: the flag only), the second after
        // the next Prepare announced a sleep. Every blocking iteration is bounded: a lost wake-up fails it.
        const int Steps = 2_000;
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        int runs = 0;
        int stalled = 0;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Steps && Volatile.Read(ref stalled) == 0; i++)
            {
                int target = (2 * i) + 2;
                ctx.ScheduleOneShot(() => runs++);
                Thread.SpinWait(i % 200);
                ctx.ScheduleOneShot(() => runs++);
                var deadline = DateTime.UtcNow + Wait.Default;
                while (Volatile.Read(ref runs) < target)
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        Volatile.Write(ref stalled, 1);
                        return;
                    }

                    Thread.Yield();
                }
            }
        });
        producer.Start();
        loop.IterateUntil(() => Volatile.Read(ref runs) == 2 * Steps || Volatile.Read(ref stalled) != 0, "every handed-over bottom half");
        Wait.Join(producer, "the producer");
        Assert.Equal((0, 2 * Steps), (stalled, runs));
    }

    /// <summary>The rest of an outer iteration after its Prepare (and a sleep that the test skips): takes the wake-up.</summary>
    private static void EndOuterIteration(AioContext ctx)
    {
        ctx.Source.Check();
        ctx.Source.Dispatch();
    }
}
