namespace Aio.TestHelper;

/// <summary>
/// IORING_REGISTER_ENABLE_RINGS fails once (EINTR, EBUSY) when the home thread binds: the context still works
/// from the next Poll on. Issue 10 item 12.
/// </summary>
internal static class RegisterFaultScenarios
{
    public static void EnableFailsOnce(int errno)
    {
        string name = Aio.Interop.Errno.Name(errno);

        // strace counts injections per thread and per syscall, and injects into the first io_uring_register of
        // every thread (when=1). This context's probe takes the main thread's; the real context below is then
        // probed untouched, and its home thread's first io_uring_register is ENABLE_RINGS.
        using (AioContext.Create(new AioContextOptions { Name = "absorbs-main-thread-register" }))
        {
        }

        using var ctx = AioContext.Create(new AioContextOptions { Name = "register-fault" });
        if (!Report.Check(ctx.HasIoUring, "the context has io_uring", $"monitor {ctx.Monitor}"))
        {
            return;
        }

        var home = new Thread(() => Home(ctx, errno, name)) { Name = "home" };
        home.Start();
        if (!home.Join(TimeSpan.FromSeconds(8)))
        {
            Report.Fail("the home thread did not finish within 8 s: " + Progress.Current);
        }
    }

    private static void Home(AioContext ctx, int errno, string name)
    {
        try
        {
            Progress.Set("the first Poll (binds the home thread, enables the ring)");
            try
            {
                ctx.Poll(false);
                Report.Ok("the first Poll returned (the failed ENABLE_RINGS was retried)");
            }
            catch (AioException ex) when (ex.Errno == errno && ex.Message.Contains("io_uring_register", StringComparison.Ordinal))
            {
                Report.Ok($"the first Poll threw AioException({name}) naming io_uring_register: {ex.Message}");
            }

            var faults = new PollFaults();
            var ledger = new RequestLedger(1);
            var refusals = new PollFaults();
            Requests.AddNop(ctx, ledger, 0, refusals);
            Progress.Set(() => $"the NOP after the fault: {ledger.Describe()}; Poll threw: {faults.Describe()}");
            bool done = Loop.RunUntil(ctx, () => ledger.AllSettled, TimeSpan.FromSeconds(3), faults);
            Loop.Drain(ctx, faults);
            Report.Check(
                done && ledger.Exact && ledger.Refused == 0,
                "a NOP added after the fault completed exactly once",
                $"{ledger.Describe()}; AddSqe threw: {refusals.Describe()}");
            int runs = Handlers.RunNotifierHandler(ctx, faults);
            Report.Check(runs == 1, "an fd handler registered after the fault runs", $"runs={runs}");
            Report.Check(faults.Count == 0, "no Poll after the first threw", faults.Describe());
        }
        catch (Exception ex)
        {
            Report.Fail($"the home thread threw {ex}");
        }
    }
}
