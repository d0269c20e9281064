using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Monitors;

/// <summary>Issue 10, item 9: more ready fds than the SQ has entries.</summary>
public class ReadinessBoundTests
{
    [IoUringFact]
    public void Poll_returns_with_ten_times_more_ready_fds_than_ring_entries_and_dispatches_each_once_per_iteration()
    {
        const int Entries = 16;
        const int Pipes = 10 * Entries;
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, RingEntries = Entries, Name = "ready-bound" });
        Assert.Equal(Entries, ctx.IoUring!.SqEntries);
        var pipes = new (int R, int W)[Pipes];
        var runs = new int[Pipes];
        bool drained = false;
        try
        {
            for (int i = 0; i < Pipes; i++)
            {
                pipes[i] = Libc.CreatePipe();
                Assert.Equal(1, Libc.WriteSpan(pipes[i].W, [1]));
                int me = i;

                // Never drains: the fd stays readable, so level-triggered semantics say it fires on every iteration.
                ctx.SetFdHandler(pipes[i].R, () => runs[me]++, null);
            }

            // Before the fix the first Poll never returned: every reaped poll was re-armed inside the reap, completed at
            // once during its own submission, and fed the reap for ever. The watchdog drains the pipes to end that.
            using var watchdog = DrainAfter(pipes, TimeSpan.FromSeconds(10), () => Volatile.Write(ref drained, true));

            for (int iteration = 1; iteration <= 3; iteration++)
            {
                Assert.True(ctx.Poll(false));
                Assert.False(Volatile.Read(ref drained), $"iteration {iteration}: Poll(false) did not return within 10 s with {Pipes} ready fds and {Entries} SQ entries");
                for (int i = 0; i < Pipes; i++)
                {
                    Assert.True(runs[i] == iteration, $"iteration {iteration}: pipe {i} was dispatched {runs[i]} times in all");
                }
            }
        }
        finally
        {
            foreach (var (r, w) in pipes)
            {
                if (r > 0)
                {
                    ctx.RemoveFdHandler(r);
                    Libc.CloseQuietly(r);
                    Libc.CloseQuietly(w);
                }
            }
        }
    }

    [IoUringFact]
    public void A_drained_fd_among_many_ready_ones_stops_firing_and_fires_again_when_written()
    {
        const int Entries = 4;
        const int Pipes = 40;
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, RingEntries = Entries, Name = "ready-drained" });
        var pipes = new (int R, int W)[Pipes];
        var runs = new int[Pipes];
        bool drained = false;
        try
        {
            for (int i = 0; i < Pipes; i++)
            {
                pipes[i] = Libc.CreatePipe();
                Libc.WriteSpan(pipes[i].W, [1]);
                int me = i;
                ctx.SetFdHandler(pipes[i].R, () =>
                {
                    runs[me]++;
                    if (me == 0)
                    {
                        Libc.ReadSpan(pipes[0].R, new byte[1]);
                    }
                }, null);
            }

            using var watchdog = DrainAfter(pipes, TimeSpan.FromSeconds(10), () => Volatile.Write(ref drained, true));
            for (int iteration = 1; iteration <= 3; iteration++)
            {
                ctx.Poll(false);
                Assert.False(Volatile.Read(ref drained), $"iteration {iteration}: Poll(false) did not return within 10 s");
            }

            Assert.Equal(1, runs[0]);
            Assert.All(runs[1..], n => Assert.Equal(3, n));
            Libc.WriteSpan(pipes[0].W, [1]);
            ctx.Poll(false);
            Assert.Equal(2, runs[0]);
        }
        finally
        {
            foreach (var (r, w) in pipes)
            {
                if (r > 0)
                {
                    ctx.RemoveFdHandler(r);
                    Libc.CloseQuietly(r);
                    Libc.CloseQuietly(w);
                }
            }
        }
    }

    /// <summary>A watchdog that, after <paramref name="limit"/>, drains every pipe (which ends a reap fed by ready fds) and says so.</summary>
    private static Timer DrainAfter((int R, int W)[] pipes, TimeSpan limit, Action fired)
        => new(_ =>
        {
            fired();
            var sink = new byte[16];
            foreach (var (r, _) in pipes)
            {
                Libc.ReadSpan(r, sink);
            }
        }, null, limit, Timeout.InfiniteTimeSpan);
}
