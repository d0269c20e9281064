using System.Diagnostics;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class CrossThreadTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Four_threads_schedule_one_shots_and_every_one_runs_exactly_once(FdMonitorKind kind)
    {
        const int Threads = 4;
        const int PerThread = 100_000;
        using var ctx = MonitorKinds.Create(kind);
        long runs = 0;
        Action callback = () => runs++;
        using var start = new Barrier(Threads);
        var producers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            // Bounded, and no assertion on this raw thread (it would end the process): a missing party shows as a
            // short count below.
            if (!start.SignalAndWait(Wait.Default))
            {
                return;
            }

            for (int i = 0; i < PerThread; i++)
            {
                ctx.ScheduleOneShot(callback);
            }
        })).ToArray();
        foreach (var t in producers)
        {
            t.Start();
        }

        LoopDriver.PollUntil(ctx, () => runs == Threads * PerThread, $"{Threads * PerThread} one-shot callbacks", TimeSpan.FromSeconds(60));
        foreach (var t in producers)
        {
            Wait.Join(t, "a producer");
        }

        Assert.False(ctx.Poll(false));
        Assert.Equal(Threads * PerThread, runs);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Bottom_half_scheduled_from_four_threads_runs_after_every_schedule(FdMonitorKind kind)
    {
        const int Threads = 4;
        const int PerThread = 100_000;
        using var ctx = MonitorKinds.Create(kind);
        long scheduled = 0;
        long covered = 0;
        long runs = 0;

        // Each run records how many schedules had started before it began. Coalescing is allowed, but a lost
        // wake-up would leave the loop asleep with covered < total.
        using var bh = ctx.CreateBottomHalf(() =>
        {
            covered = Volatile.Read(ref scheduled);
            runs++;
        });
        var producers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                Interlocked.Increment(ref scheduled);
                bh.Schedule();
            }
        })).ToArray();
        foreach (var t in producers)
        {
            t.Start();
        }

        LoopDriver.PollUntil(ctx, () => covered == Threads * PerThread, "a run after the last schedule", TimeSpan.FromSeconds(60));
        foreach (var t in producers)
        {
            Wait.Join(t, "a producer");
        }

        while (ctx.Poll(false))
        {
        }

        Assert.InRange(runs, 1, Threads * PerThread);
        Assert.False(bh.IsScheduled);
        Assert.False(ctx.Poll(false));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Bottom_half_handshake_never_loses_a_wakeup(FdMonitorKind kind)
    {
        const int Threads = 4;
        const int PerThread = 5_000;
        using var ctx = MonitorKinds.Create(kind);
        long runSeq = 0;

        // Every schedule waits for a run that started after it: a single lost wake-up stalls the producer.
        using var bh = ctx.CreateBottomHalf(() => Interlocked.Increment(ref runSeq));
        int done = 0;
        int stalled = 0;
        var producers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < PerThread; i++)
            {
                long seen = Volatile.Read(ref runSeq);
                bh.Schedule();
                while (Volatile.Read(ref runSeq) == seen)
                {
                    if (sw.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        Interlocked.Increment(ref stalled);
                        ctx.Notify();
                        return;
                    }

                    Thread.Yield();
                }
            }

            Interlocked.Increment(ref done);

            // The loop may be asleep with nothing to do; the condition it waits for is ours.
            ctx.Notify();
        })).ToArray();
        foreach (var t in producers)
        {
            t.Start();
        }

        LoopDriver.PollUntil(ctx, () => Volatile.Read(ref done) + Volatile.Read(ref stalled) == Threads, "every producer", TimeSpan.FromSeconds(90));
        foreach (var t in producers)
        {
            Wait.Join(t, "a producer");
        }

        Assert.Equal(0, stalled);
        Assert.InRange(Volatile.Read(ref runSeq), PerThread, Threads * PerThread);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Notify_from_another_thread_wakes_a_blocked_poll_which_returns_false(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        ctx.Poll(false);
        using var waiting = new ManualResetEventSlim();
        var notifier = Task.Run(() =>
        {
            // Notify repeatedly until the loop reports it woke; the first may land before Poll sleeps.
            while (!waiting.Wait(1))
            {
                ctx.Notify();
            }
        });
        bool progress = LoopDriver.PollBlockingBounded(ctx, "Notify from another thread", TimeSpan.FromSeconds(10));
        waiting.Set();
        Wait.For(notifier, "the notifying thread");
        Assert.False(progress);
        Assert.True(ctx.Statistics.Notifies > 0);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Handler_registered_from_another_thread_takes_effect_in_a_sleeping_loop(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        int runs = 0;
        var register = Task.Run(() =>
        {
            ctx.SetEventNotifier(e, en =>
            {
                en.TestAndClear();
                runs++;
            });
            e.Set();
        });
        LoopDriver.PollUntil(ctx, () => runs == 1, "a handler registered from another thread", TimeSpan.FromSeconds(10));
        Wait.For(register, "the registering thread");
        ctx.SetEventNotifier(e, null);
    }

    [Fact]
    public void Poll_from_a_foreign_thread_is_refused()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        ctx.Poll(false);
        Exception? caught = null;
        var t = new Thread(() =>
        {
            try
            {
                ctx.Poll(false);
            }
            catch (Exception ex)
            {
                caught = ex;
            }
        });
        t.Start();
        Wait.Join(t, "the foreign thread");
        Assert.IsType<InvalidOperationException>(caught);
    }
}
