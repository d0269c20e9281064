using System.Diagnostics;
using Aio;
using Aio.Interop;
using Aio.Uring;

namespace Aio.TestHelper;

/// <summary>
/// Ring scenarios run under <c>strace -e inject=</c> by the io_uring tests (names start with <c>ring-</c>). Each prints
/// "OK: ..." and exits 0, or prints "FAIL: ..." and exits 1.
/// </summary>
internal static class RingScenarios
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    public static int Run(string name) => name switch
    {
        "ring-backpressure" => BackPressure(),
        "ring-enable-retry" => EnableRetry(),
        "ring-enable-eintr" => EnableEintr(),
        "ring-orphan" => Orphan(),
        "ring-collected" => Collected(),
        "ring-eintr" => InterruptedWaits(),
        _ => Fail($"unknown ring scenario '{name}'"),
    };

    /// <summary>
    /// Item 11: a ring of 4 entries, 3000 requests from another thread and 3000 from bottom halves on the home thread,
    /// while the injected errors make io_uring_enter refuse submissions. Every foreign request completes exactly once;
    /// a home request completes exactly once if AddSqe returned, never if it threw.
    /// </summary>
    private static int BackPressure()
    {
        const int Foreign = 3000;
        const int Home = 3000;
        const int Total = Foreign + Home;
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, RingEntries = 4, Name = "ring-backpressure" });
        var counts = new int[Total];
        var refused = new bool[Total];
        var errors = new int[Total];
        int refusedCount = 0;
        var pollErrors = new List<string>();
        bool PollCatching(bool blocking)
        {
            try
            {
                return ctx.Poll(blocking);
            }
            catch (AioException ex)
            {
                pollErrors.Add(Errno.Name(ex.Errno));
                return true;
            }
        }

        PollCatching(false);
        bool producerDone = false;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Foreign; i++)
            {
                ctx.AddSqe(s_nop, i, new Counter(counts, errors, i));
            }

            Volatile.Write(ref producerDone, true);
            ctx.Notify();
        });
        producer.Start();

        int nextHome = Foreign;
        BottomHalf? bh = null;
        bh = ctx.CreateBottomHalf(() =>
        {
            for (int k = 0; k < 8 && nextHome < Total; k++, nextHome++)
            {
                try
                {
                    ctx.AddSqe(s_nop, nextHome, new Counter(counts, errors, nextHome));
                }
                catch (AioException)
                {
                    refused[nextHome] = true;
                    refusedCount++;
                }
            }

            if (nextHome < Total)
            {
                bh!.Schedule();
            }
        });
        bh.Schedule();

        var sw = Stopwatch.StartNew();
        while (!Done())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20))
            {
                return Fail($"not every accepted request completed within 20 s: {Summary()}");
            }

            // Non-blocking: a lost request must show up as a missing count, not as a hang.
            PollCatching(false);
        }

        producer.Join();

        // A duplicate completion would arrive now.
        for (int i = 0; i < 50; i++)
        {
            PollCatching(false);
        }

        for (int i = 0; i < Total; i++)
        {
            int expected = refused[i] ? 0 : 1;
            if (counts[i] != expected || errors[i] != 0)
            {
                return Fail($"request {i} ({(i < Foreign ? "foreign" : "home")}, {(refused[i] ? "refused" : "accepted")}) completed {counts[i]} times ({errors[i]} with an error); {Summary()}");
            }
        }

        bh.Dispose();
        return Ok($"{Total - refusedCount} accepted requests completed once each; {refusedCount} refused home requests never completed; {Summary()}");

        bool Done()
        {
            if (!Volatile.Read(ref producerDone) || nextHome < Total)
            {
                return false;
            }

            for (int i = 0; i < Total; i++)
            {
                if (!refused[i] && counts[i] == 0)
                {
                    return false;
                }
            }

            return true;
        }

        string Summary()
        {
            int done = counts.Count(c => c > 0);
            return $"{done}/{Total} completed, {refusedCount} refused, Poll errors [{string.Join(",", pollErrors.Distinct())}] x{pollErrors.Count}, {ctx.Statistics.RingEnters} io_uring_enter calls";
        }
    }

    /// <summary>Item 12: io_uring_register(ENABLE_RINGS) fails once (ENOMEM): the first Poll says so, the next one enables.</summary>
    private static int EnableRetry()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "ring-enable-retry" });
        try
        {
            ctx.Poll(false);
            return Fail("the first Poll did not report the failed ENABLE_RINGS");
        }
        catch (AioException ex) when (ex.Errno == Errno.ENOMEM && ex.Message.Contains("ENABLE_RINGS", StringComparison.Ordinal))
        {
        }

        return ServesRequestsAndFds(ctx, "after one failed ENABLE_RINGS");
    }

    /// <summary>Item 12: ENABLE_RINGS interrupted by a signal (EINTR) is simply retried.</summary>
    private static int EnableEintr()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "ring-enable-eintr" });
        ctx.Poll(false);
        return ServesRequestsAndFds(ctx, "after an interrupted ENABLE_RINGS");
    }

    /// <summary>
    /// Orphans (issue 10, "smaller"): a poll completion reaped while a bottom half's AddSqe made room in a full SQ (the
    /// kernel refused the first submission: injected EAGAIN on the second io_uring_enter) is ready work; the next
    /// blocking Poll must not sleep on it. A COOP_TASKRUN ring, so that the completion is posted as soon as the
    /// notifier is set.
    /// </summary>
    private static int Orphan()
    {
        using var ctx = TwoEntryCoopRing("ring-orphan");
        using var e = new EventNotifier();
        var (r, w) = Libc.CreatePipe();
        try
        {
            int runs = 0;
            ctx.SetEventNotifier(e, _ => runs++);
            ctx.Poll(false); // io_uring_enter #1: both polls armed.
            var sink = new Counter(new int[1], new int[1], 0);
            ctx.ScheduleOneShot(() =>
            {
                // The poll completes now (COOP_TASKRUN runs the task work on the way out of write(2)).
                e.Set();

                // Three polls on an empty pipe through a 2-entry SQ: the third needs room, and its submission
                // (io_uring_enter #2) is refused; relieving the pressure reaps the notifier's completion, outside a wait.
                for (int i = 0; i < 3; i++)
                {
                    ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In), r, sink);
                }

                // Somebody else consumes the readiness: the re-armed poll will not complete again.
                e.TestAndClear();
            });
            ctx.Poll(false);
            if (runs != 0)
            {
                return Fail($"the handler already ran ({runs}): the completion was not reaped as an orphan");
            }

            if (SleptUntilTheWatchdog(ctx, w))
            {
                return Fail("Poll(true) slept with a ready handler held by the monitor until the 5 s watchdog woke it");
            }

            return runs == 1 ? Ok("the orphaned readiness was dispatched without sleeping") : Fail($"handler runs: {runs}");
        }
        finally
        {
            ctx.SetEventNotifier(e, null);
            ctx.Dispose();
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    /// <summary>The one retry helper: every other io_uring_enter fails with EINTR; timed waits still last as long as asked, requests still complete.</summary>
    private static int InterruptedWaits()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "ring-eintr" });
        ctx.Poll(false);
        var sw = new Stopwatch();
        for (int round = 0; round < 20; round++)
        {
            bool fired = false;
            using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired = true);
            sw.Restart();
            timer.ArmAfter(TimeSpan.FromMilliseconds(10));
            while (!fired)
            {
                ctx.Poll(true);
                if (sw.Elapsed > TimeSpan.FromSeconds(5))
                {
                    return Fail($"round {round}: a 10 ms timer did not fire within 5 s");
                }
            }

            if (sw.Elapsed < TimeSpan.FromMilliseconds(10))
            {
                return Fail($"round {round}: the 10 ms timer fired after {sw.Elapsed.TotalMilliseconds:0.00} ms");
            }
        }

        return ServesRequestsAndFds(ctx, "with every other io_uring_enter interrupted");
    }

    private static int ServesRequestsAndFds(AioContext ctx, string when)
    {
        var counts = new int[1];
        var errors = new int[1];
        ctx.AddSqe(s_nop, 0, new Counter(counts, errors, 0));
        using var e = new EventNotifier();
        int runs = 0;
        ctx.SetEventNotifier(e, n =>
        {
            n.TestAndClear();
            runs++;
        });
        e.Set();
        var sw = Stopwatch.StartNew();
        while (counts[0] == 0 || runs == 0)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10))
            {
                return Fail($"{when}: NOP completions {counts[0]}, fd handler runs {runs} after 10 s");
            }

            ctx.Poll(false);
        }

        ctx.SetEventNotifier(e, null);
        return errors[0] == 0 ? Ok($"{when}: requests complete and fd handlers run") : Fail($"{when}: the NOP failed");
    }

    /// <summary>
    /// A request's completion reaped while the wait makes room for a re-armed fd poll (its submission refused once) is
    /// delivered by that iteration: the wait's enter then only submits, it does not sleep until some other completion.
    /// </summary>
    private static int Collected()
    {
        using var ctx = TwoEntryCoopRing("ring-collected");
        var (r, w) = Libc.CreatePipe();
        var (ar, aw) = Libc.CreatePipe();
        try
        {
            var counts = new int[2];
            var nop = new Counter(counts, new int[2], 0);
            var idle = new Counter(counts, new int[2], 1);
            SqePreparer<int> poll = static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In);
            int reads = 0;
            ctx.SetFdHandler(ar, () =>
            {
                reads++;
                Libc.ReadSpan(ar, new byte[1]);
            }, null);
            ctx.Poll(false);
            Libc.WriteSpan(aw, [1]);
            ctx.ScheduleOneShot(() =>
            {
                // A NOP and a poll fill the 2-entry SQ; the next poll needs room, so both are submitted and the NOP's
                // completion is posted at once (COOP_TASKRUN), not reaped. Then the SQ is filled again. The fd handler,
                // dispatched after this bottom half, is re-armed by the next wait, which needs room for it: that
                // submission is refused (the injected EAGAIN), and relieving the pressure reaps the NOP's completion,
                // leaving the completion queue empty.
                ctx.AddSqe(s_nop, 0, nop);
                ctx.AddSqe(poll, r, idle);
                ctx.AddSqe(poll, r, idle);
                ctx.AddSqe(poll, r, idle);
            });
            ctx.Poll(false);
            if (counts[0] != 0 || reads != 1)
            {
                return Fail($"NOP delivered {counts[0]}, handler ran {reads}: the scenario does not reach the wait's reap");
            }

            if (SleptUntilTheWatchdog(ctx, w))
            {
                return Fail("Poll(true) slept with a completion it had reaped until the 5 s watchdog woke it");
            }

            return counts[0] == 1 ? Ok("the reaped completion was delivered without sleeping") : Fail($"NOP completions: {counts[0]}");
        }
        finally
        {
            ctx.RemoveFdHandler(ar);
            ctx.Dispose();
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
            Libc.CloseQuietly(ar);
            Libc.CloseQuietly(aw);
        }
    }

    /// <summary>
    /// A ring of 2 entries without SINGLE_ISSUER|DEFER_TASKRUN (the COOP_TASKRUN tier): a completion is posted as soon as
    /// it happens, and a third request already needs room.
    /// </summary>
    private static AioContext TwoEntryCoopRing(string name) => AioContext.Create(new AioContextOptions
    {
        Monitor = FdMonitorKind.IoUring,
        Name = name,
        RingEntries = 2,
        ForbiddenRingFlags = IoUringConstants.SetupSingleIssuer | IoUringConstants.SetupDeferTaskrun,
    });

    /// <summary>One blocking Poll, with a watchdog that writes to <paramref name="wakeFd"/> after 5 s; true if it had to.</summary>
    private static bool SleptUntilTheWatchdog(AioContext ctx, int wakeFd)
    {
        bool fired = false;
        using var watchdog = new Timer(_ =>
        {
            Volatile.Write(ref fired, true);
            Libc.WriteSpan(wakeFd, [1]);
        }, null, 5000, Timeout.Infinite);
        ctx.Poll(true);
        return Volatile.Read(ref fired);
    }

    private static int Ok(string message)
    {
        Console.WriteLine("OK: " + message);
        return 0;
    }

    private static int Fail(string message)
    {
        Console.WriteLine("FAIL: " + message);
        return 1;
    }

    /// <summary>Counts the completions of request <c>id</c>, and those that carried an error.</summary>
    private sealed class Counter(int[] counts, int[] errors, int id) : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe)
        {
            counts[id]++;
            if (cqe.Result < 0)
            {
                errors[id]++;
            }
        }
    }
}
