using Aio.Interop;

namespace Aio.TestHelper;

/// <summary>
/// io_uring_enter refuses submissions for a while (EAGAIN/EBUSY: the kernel wants completions reaped first; ENOMEM)
/// while a small SQ is full and foreign threads keep queueing: every request is accepted exactly once, or refused
/// (its submitting call threw) with nothing left behind. Issue 10 item 11.
/// </summary>
internal static class BackPressureScenarios
{
    /// <summary>Small on purpose: the foreign queue overfills the SQ many times over.</summary>
    private const int RingEntries = 8;
    private const int ForeignThreads = 4;
    private const int ForeignNops = 100;
    private const int ForeignSubmits = 20;
    private const int HomeNops = 100;
    private const int HomePerIteration = 6;

    public static void FullRingBurst(int errno)
        => Run("backpressure-" + Errno.Name(errno), [.. new[] { errno, Errno.EAGAIN, Errno.EBUSY }.Distinct()]);

    public static void OutOfMemory() => Run("enomem", [Errno.ENOMEM, Errno.EBUSY]);

    /// <param name="allowed">
    /// The errnos a clear refusal may carry: the injected one, and EBUSY, which a full SQ gives when submission is
    /// refused.
    /// </param>
    private static void Run(string name, int[] allowed)
    {
        using var ctx = AioContext.Create(new AioContextOptions { Name = name, RingEntries = RingEntries });
        if (!Report.Check(ctx.HasIoUring, "the context has io_uring", $"monitor {ctx.Monitor}"))
        {
            return;
        }

        var faults = new PollFaults();
        var foreignRefusals = new PollFaults();
        var homeRefusals = new PollFaults();
        try
        {
            ctx.Poll(false);
        }
        catch (Exception ex)
        {
            faults.Record(ex);
        }

        var ledger = new RequestLedger((ForeignThreads * ForeignNops) + HomeNops);
        var submits = new List<Task<int>>();
        var foreign = Requests.StartForeign(ctx, ledger, HomeNops, ForeignThreads, ForeignNops, submits, ForeignSubmits, foreignRefusals);
        int homeIssued = 0;
        bool joined = false;
        Progress.Set(() => $"home issued {homeIssued}/{HomeNops}; {ledger.Describe()}; {Requests.Summarize(submits).Text}; Poll threw: {faults.Describe()}");
        bool done = Loop.RunUntil(
            ctx,
            () => homeIssued == HomeNops && (joined = joined || foreign.All(t => !t.IsAlive)) && ledger.AllSettled && submits.All(t => t.IsCompleted),
            TimeSpan.FromSeconds(8),
            faults,
            () =>
            {
                // Home-thread AddSqe between iterations, while the foreign queue keeps the SQ full.
                for (int i = 0; i < HomePerIteration && homeIssued < HomeNops; i++, homeIssued++)
                {
                    Requests.AddNop(ctx, ledger, homeIssued, homeRefusals);
                }
            },
            () => ledger.Settled + Requests.CountCompleted(submits) + homeIssued);
        Loop.Drain(ctx, faults);
        bool joinedAll = Requests.Join(foreign);
        string allowedNames = Requests.ErrnoNames(allowed);
        Report.Saw(ledger.Describe());
        Report.Saw($"home AddSqe refusals: {homeRefusals.Describe()}");
        Report.Saw($"Poll threw: {faults.Describe()}");

        Report.Check(joinedAll, "the foreign AddSqe/SubmitAsync calls returned", "a foreign thread is stuck in AddSqe or SubmitAsync");
        Report.Check(done, "every request finished or was refused (no hang, none lost; the loop gives up after 2 s without progress)", Progress.Current);
        Report.Check(ledger.Lost.Length == 0, $"no AddSqe NOP was lost ({ledger.Count} issued)", ledger.Describe());
        Report.Check(ledger.Duplicated.Length == 0, "no AddSqe NOP completed twice", ledger.Describe());
        Report.Check(
            ledger.RefusedButCompleted.Length == 0,
            $"no home-thread AddSqe that threw had its request executed ({ledger.Refused} refused)",
            ledger.Describe());
        Report.Check(foreignRefusals.Count == 0, "foreign AddSqe/SubmitAsync never threw (they only queue)", foreignRefusals.Describe());
        Report.Check(
            homeRefusals.AllAre("io_uring", allowed),
            $"home-thread AddSqe refusals, if any, were AioException({allowedNames}) naming io_uring",
            homeRefusals.Describe());

        var s = Requests.Summarize(submits);
        Report.Check(s.Pending == 0 && submits.Count == ForeignThreads * ForeignSubmits, "every foreign SubmitAsync completed or faulted", s.Text);
        Report.Check(
            Requests.FaultsAre(submits, allowed),
            $"a SubmitAsync that faulted carried AioException({allowedNames})",
            s.Text);
        Report.Check(
            faults.AllAre("io_uring", allowed),
            $"Poll surfaced nothing but AioException({allowedNames}) naming io_uring ({faults.Count} thrown)",
            faults.Describe());
    }
}
