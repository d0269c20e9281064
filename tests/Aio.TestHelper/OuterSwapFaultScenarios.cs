namespace Aio.TestHelper;

/// <summary>
/// A DEFER_TASKRUN context that an outer loop drives swaps its ring at the first Prepare; the injected io_uring_setup
/// fault (from this thread's second call on) refuses the new ring. The outer loop must neither see Prepare throw nor be
/// told to come back at once for ever (a spin), and the context must keep running its work on the ring it has.
/// </summary>
internal static class OuterSwapFaultScenarios
{
    public static void SwapRefused()
    {
        // Everything on one fresh thread: the context's own io_uring_setup is that thread's first, the swap its second.
        var thread = new Thread(Run) { Name = "outer-loop" };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(8)))
        {
            Report.Fail("the outer-loop thread did not finish within 8 s: " + Progress.Current);
        }
    }

    private static void Run()
    {
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Name = "outer-swap-fault", Monitor = FdMonitorKind.IoUring });
            var warnings = new List<AioWarning>();
            ctx.Warning += (_, warning) =>
            {
                lock (warnings)
                {
                    warnings.Add(warning);
                }
            };
            var source = ctx.Source;
            Progress.Set("the outer loop's first Prepares (the ring swap refused)");
            for (int i = 0; i < 3; i++)
            {
                bool ready = source.Prepare(out int timeoutMs);
                if (!Report.Check(!ready && timeoutMs is > 0 and <= 1, $"Prepare {i + 1} returned, with a short sleep ({timeoutMs} ms)", $"Prepare {i + 1}: ready={ready}, timeout {timeoutMs} ms"))
                {
                    return;
                }

                if (source.Check())
                {
                    source.Dispatch();
                }
            }

            // Said, and once: every Prepare tries the swap again, and a warning each time would flood the log.
            lock (warnings)
            {
                var fallbacks = warnings.Where(w => w.EventName == "MonitorFallback").ToList();
                if (!Report.Check(
                    fallbacks.Count == 1 && fallbacks[0].Message.Contains("errno 24", StringComparison.Ordinal),
                    "the refused swap was reported once, as a MonitorFallback warning naming EMFILE",
                    $"warnings after 3 refused swaps: [{string.Join(" | ", warnings.Select(w => $"{w.EventName}: {w.Message}"))}]"))
                {
                    return;
                }
            }

            // Work still runs: a bottom half and a ring request, through the outer loop's Prepare/Check/Dispatch.
            bool ran = false;
            ctx.ScheduleOneShot(() => ran = true);
            var nop = ctx.SubmitAsync(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0).AsTask();
            Progress.Set(() => $"the bottom half ({ran}) and the NOP ({nop.Status}) through the outer loop");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while ((!ran || !nop.IsCompleted) && DateTime.UtcNow < deadline)
            {
                source.Prepare(out _);
                if (source.Check())
                {
                    source.Dispatch();
                }
            }

            Report.Check(ran && nop.IsCompletedSuccessfully, "a bottom half and a ring NOP ran on the ring kept", $"bottom half ran={ran}, NOP {nop.Status}");
        }
        catch (Exception ex)
        {
            Report.Fail($"the outer loop threw {ex}");
        }
    }
}
