using Aio.Interop;

namespace Aio.TestHelper;

/// <summary>Issuing numbered NOPs and async operations, recording refusals instead of stopping at them.</summary>
internal static class Requests
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    /// <summary>AddSqe of NOP number <paramref name="id"/>; a throw marks it refused and is recorded.</summary>
    public static void AddNop(AioContext ctx, RequestLedger ledger, int id, PollFaults refusals)
    {
        var handler = ledger.Issue(id);
        try
        {
            ctx.AddSqe(s_nop, id, handler);
        }
        catch (Exception ex)
        {
            ledger.Refuse(id);
            refusals.Record(ex);
        }
    }

    /// <summary>SubmitAsync of a NOP as a Task; a synchronous throw becomes a faulted task.</summary>
    public static Task<int> SubmitNop(AioContext ctx)
    {
        try
        {
            return ctx.SubmitAsync(s_nop, 0).AsTask();
        }
        catch (Exception ex)
        {
            return Task.FromException<int>(ex);
        }
    }

    /// <summary>Starts <paramref name="threads"/> foreign threads that each issue <paramref name="perThread"/> NOPs and SubmitAsync NOPs.</summary>
    public static Thread[] StartForeign(AioContext ctx, RequestLedger ledger, int firstId, int threads, int perThread, List<Task<int>> submits, int submitsPerThread, PollFaults refusals)
    {
        var started = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int first = firstId + (t * perThread);
            started[t] = new Thread(() =>
            {
                var mine = new List<Task<int>>();
                for (int i = 0; i < perThread; i++)
                {
                    AddNop(ctx, ledger, first + i, refusals);
                    if (i < submitsPerThread)
                    {
                        mine.Add(SubmitNop(ctx));
                    }
                }

                lock (submits)
                {
                    submits.AddRange(mine);
                }
            })
            {
                Name = "foreign-" + t,
            };
            started[t].Start();
        }

        return started;
    }

    /// <summary>Joins the foreign threads, bounded; false if one is stuck (AddSqe from a foreign thread must never block).</summary>
    public static bool Join(Thread[] threads)
    {
        long deadline = Environment.TickCount64 + 3000;
        return threads.All(t => t.Join(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64))));
    }

    /// <summary>"N ran to completion with 0, N faulted (reasons), N still pending" for NOP tasks.</summary>
    public static (int Ok, int Faulted, int Pending, string Text) Summarize(List<Task<int>> shared)
    {
        // The foreign threads add to the list under its lock; the watchdog may ask before they are done.
        List<Task<int>> tasks;
        lock (shared)
        {
            tasks = [.. shared];
        }

        int ok = tasks.Count(t => t.IsCompletedSuccessfully && t.Result == 0);
        int wrong = tasks.Count(t => t.IsCompletedSuccessfully && t.Result != 0);
        var faulted = tasks.Where(t => t.IsFaulted || t.IsCanceled).ToList();
        int pending = tasks.Count(t => !t.IsCompleted);
        string reasons = string.Join("; ", faulted
            .GroupBy(t => t.Exception?.InnerException is { } e ? $"{e.GetType().Name}: {e.Message}" : "canceled")
            .Select(g => $"{g.Count()}x {g.Key}"));
        return (ok, faulted.Count + wrong, pending, $"{tasks.Count} SubmitAsync: {ok} completed with 0, {wrong} with another result, {faulted.Count} faulted ({reasons}), {pending} never completed");
    }

    /// <summary>How many of the tasks finished (any way).</summary>
    public static int CountCompleted(List<Task<int>> shared)
    {
        lock (shared)
        {
            return shared.Count(t => t.IsCompleted);
        }
    }

    /// <summary>Whether a faulted SubmitAsync was refused clearly: an AioException with one of <paramref name="errnos"/>.</summary>
    public static bool FaultsAre(List<Task<int>> tasks, params int[] errnos)
        => tasks.Where(t => t.IsFaulted).All(t => t.Exception!.InnerException is AioException a && errnos.Contains(a.Errno));

    public static string ErrnoNames(params int[] errnos) => string.Join("/", errnos.Select(Errno.Name));
}
