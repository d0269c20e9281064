using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>Dispose from another thread while the home thread works: it wins or is refused, atomically.</summary>
public class DisposeRaceTests
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Foreign_Dispose_racing_the_home_thread_either_wins_or_is_refused_and_never_crashes(FdMonitorKind monitor)
    {
        // At least 100 rounds, and on until the race was really run (a refusal seen: the foreign Dispose met the home
        // thread inside the context), which a loaded machine may take longer to produce; bounded either way.
        const int Rounds = 100;
        const int MaxRounds = 2000;
        int refusals = 0;
        var handler = new RecordingHandler();
        for (int round = 0; round < MaxRounds && (round < Rounds || Volatile.Read(ref refusals) == 0); round++)
        {
            var ctx = MonitorKinds.Create(monitor);
            ctx.Poll(false);
            using var start = new Barrier(2);
            Exception? disposerFailure = null;
            int spin = round % 50;
            var disposer = new Thread(() =>
            {
                try
                {
                    Assert.True(start.SignalAndWait(Wait.Default), "the other party never reached the barrier");
                    Thread.SpinWait(spin * 20);
                    Interlocked.Add(ref refusals, ForeignDispose.RetryingRefusals(ctx));
                }
                catch (Exception ex)
                {
                    disposerFailure = ex;
                }
            });
            disposer.Start();
            Assert.True(start.SignalAndWait(Wait.Default), "the other party never reached the barrier");

            // The home thread keeps using the context, between iterations too (AddSqe touches the ring directly),
            // until the foreign Dispose has won: from then on every call throws ObjectDisposedException.
            var homeEnd = Record.Exception(() =>
            {
                for (int i = 0; i < 1_000_000; i++)
                {
                    ctx.Poll(false);
                    if (monitor == FdMonitorKind.IoUring)
                    {
                        ctx.AddSqe(s_nop, i, handler);
                    }

                    // Other work between iterations, of varying length: the windows in which a foreign Dispose may win.
                    Thread.SpinWait((i % 16) * 50);
                }
            });
            Wait.Join(disposer, "the foreign Dispose");
            Assert.Null(disposerFailure);
            Assert.IsType<ObjectDisposedException>(homeEnd);
            Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));
        }

        // Not an assertion of timing, a sanity check that the race was really run: the loop was inside Poll at times.
        Assert.True(refusals > 0, $"the foreign Dispose never met the home thread inside the context in {MaxRounds} rounds");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Foreign_Dispose_while_the_loop_runs_is_refused_and_changes_nothing(FdMonitorKind monitor)
    {
        using var ctx = MonitorKinds.Create(monitor);
        Exception? inside = null;
        int runs = 0;
        ctx.ScheduleOneShot(() =>
        {
            // A thread of its own: a Task waited for here could be inlined onto this (the home) thread.
            var foreign = new Thread(() => inside = Record.Exception(ctx.Dispose));
            foreign.Start();
            Wait.Join(foreign, "the foreign Dispose");
            runs++;
        });
        Assert.True(ctx.Poll(false));
        Assert.IsType<InvalidOperationException>(inside);
        ctx.ScheduleOneShot(() => runs++);
        Assert.True(ctx.Poll(false));
        Assert.Equal(2, runs);
    }
}
