using Microsoft.Win32.SafeHandles;

namespace Aio.TestHelper;

/// <summary>io_uring_enter is interrupted (EINTR) now and then: retried, never surfaced, nothing lost or doubled.</summary>
internal static class EnterFaultScenarios
{
    private const int HomeNops = 64;
    private const int ForeignThreads = 2;
    private const int ForeignNops = 64;
    private const int ForeignSubmits = 16;
    private const int Reads = 32;
    private const int ReadSize = 4096;

    public static void InterruptedRequestsCompleteOnce()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Name = "eintr" });
        if (!Report.Check(ctx.HasIoUring, "the context has io_uring", $"monitor {ctx.Monitor}"))
        {
            return;
        }

        string path = Path.Combine(Path.GetTempPath(), $"aio-eintr-{Environment.ProcessId}");
        var content = new byte[Reads * ReadSize];
        for (int i = 0; i < content.Length; i++)
        {
            content[i] = (byte)((i * 7) + (i / ReadSize));
        }

        File.WriteAllBytes(path, content);
        try
        {
            using var file = File.OpenHandle(path);
            Run(ctx, file, content);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Two timers in a row, each waited for by one blocking Poll whose io_uring_enter the test interrupts several
    /// times, each interruption after a delay (strace's delay_enter): a wait that restarted its full timeout after
    /// an EINTR, instead of waiting for what is left, would fire the timer about the interruptions' total late.
    /// </summary>
    public static void InterruptedWaitsHonourTimers()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Name = "eintr-timer" });
        if (!Report.Check(ctx.HasIoUring, "the context has io_uring", $"monitor {ctx.Monitor}"))
        {
            return;
        }

        ctx.Poll(false);
        var delay = TimeSpan.FromMilliseconds(250);
        const double LateLimitMs = 200;
        for (int round = 1; round <= 2; round++)
        {
            long fired = -1;
            using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired = ctx.Now(AioClock.Monotonic));
            long armed = ctx.Now(AioClock.Monotonic);
            timer.ArmAfter(delay);
            long expiry = timer.ExpireNs;
            int polls = 0;
            int idle = 0;
            int r = round;
            Progress.Set(() => $"round {r}: waiting for the timer, {polls} blocking Polls so far ({idle} returned false)");
            long deadline = Environment.TickCount64 + 3000;
            while (fired < 0 && Environment.TickCount64 < deadline)
            {
                polls++;
                if (!ctx.Poll(true))
                {
                    idle++;
                }
            }

            if (!Report.Check(fired >= 0, $"round {round}: the timer fired", $"not fired after 3 s and {polls} blocking Polls"))
            {
                return;
            }

            double lateMs = (fired - expiry) / 1e6;
            Report.Check(
                fired >= expiry,
                $"round {round}: the timer fired no earlier than its expiry ({(fired - armed) / 1e6:0.0} ms after arming for {delay.TotalMilliseconds} ms)",
                $"fired {-lateMs:0.0} ms early");
            Report.Check(
                lateMs < LateLimitMs,
                $"round {round}: the timer fired {lateMs:0.0} ms after its expiry (limit {LateLimitMs} ms)",
                $"fired {lateMs:0.0} ms late: the interrupted wait did not keep its deadline");
            Report.Check(
                idle == 0,
                $"round {round}: every blocking Poll ran a callback ({polls} Poll(true))",
                $"{idle} of {polls} Poll(true) returned false with nothing run: an interrupted wait ended the sleep");
        }
    }

    private static void Run(AioContext ctx, SafeFileHandle file, byte[] content)
    {
        var faults = new PollFaults();
        var refusals = new PollFaults();
        ctx.Poll(false);
        var ledger = new RequestLedger(HomeNops + (ForeignThreads * ForeignNops));
        var submits = new List<Task<int>>();
        var foreign = Requests.StartForeign(ctx, ledger, HomeNops, ForeignThreads, ForeignNops, submits, ForeignSubmits, refusals);
        for (int i = 0; i < HomeNops; i++)
        {
            Requests.AddNop(ctx, ledger, i, refusals);
        }

        var buffers = new byte[Reads][];
        var reads = new Task<int>[Reads];
        for (int i = 0; i < Reads; i++)
        {
            buffers[i] = new byte[ReadSize];
            reads[i] = ctx.ReadAsync(file, buffers[i], (long)i * ReadSize).AsTask();
        }

        bool joined = false;
        Progress.Set(() => $"waiting: NOPs {ledger.Describe()}; {Requests.Summarize(submits).Text}; reads done {reads.Count(t => t.IsCompleted)}/{Reads}");
        bool done = Loop.RunUntil(
            ctx,
            () => (joined = joined || foreign.All(t => !t.IsAlive)) && ledger.AllSettled && submits.All(t => t.IsCompleted) && reads.All(t => t.IsCompleted),
            TimeSpan.FromSeconds(8),
            faults,
            progress: () => ledger.Settled + Requests.CountCompleted(submits) + reads.Count(t => t.IsCompleted));
        Loop.Drain(ctx, faults);
        Report.Check(Requests.Join(foreign), "the foreign AddSqe/SubmitAsync calls returned", "a foreign thread is stuck in AddSqe or SubmitAsync");
        Report.Saw(ledger.Describe());

        Report.Check(done, "every request finished (the loop gives up after 2 s without progress)", Progress.Current);
        Report.Check(
            ledger.Exact && ledger.Refused == 0,
            $"all {ledger.Count} AddSqe NOPs (home and foreign) completed exactly once",
            ledger.Describe());
        int[] bad = ledger.WrongResult((_, res) => res == 0);
        Report.Check(bad.Length == 0, "every NOP completed with 0", $"{bad.Length} NOPs with another result");
        var s = Requests.Summarize(submits);
        Report.Check(s.Ok == submits.Count && submits.Count == ForeignThreads * ForeignSubmits, $"all {submits.Count} foreign SubmitAsync NOPs completed with 0", s.Text);

        int[] wrongReads = Enumerable.Range(0, Reads)
            .Where(i => !reads[i].IsCompletedSuccessfully || reads[i].Result != ReadSize || !buffers[i].AsSpan().SequenceEqual(content.AsSpan(i * ReadSize, ReadSize)))
            .ToArray();
        Report.Check(
            wrongReads.Length == 0,
            $"all {Reads} ReadAsync returned their {ReadSize} bytes",
            string.Join("; ", wrongReads.Take(5).Select(i => $"#{i}: {(reads[i].IsCompletedSuccessfully ? $"{reads[i].Result} bytes, data {(buffers[i].AsSpan().SequenceEqual(content.AsSpan(i * ReadSize, ReadSize)) ? "ok" : "wrong")}" : reads[i].Status.ToString() + " " + reads[i].Exception?.InnerException?.Message)}")));
        Report.Check(faults.Count == 0, "Poll never threw: EINTR was retried", faults.Describe());
        Report.Check(refusals.Count == 0, "no AddSqe/SubmitAsync threw", refusals.Describe());
    }
}
