using System.Collections.Concurrent;

namespace Aio.Diagnostics;

/// <summary>The live contexts, for the counters and the meter. Registration is one dictionary insert per Create.</summary>
internal static class ContextRegistry
{
    private static readonly ConcurrentDictionary<AioContext, byte> s_live = new();

    public static void Add(AioContext context) => s_live.TryAdd(context, 0);

    public static void Remove(AioContext context) => s_live.TryRemove(context, out _);

    public static ICollection<AioContext> Live => s_live.Keys;

    /// <summary>The statistics of every live context, summed.</summary>
    public static AioStatistics Total()
    {
        long it = 0, bw = 0, n = 0, nw = 0, bh = 0, fd = 0, tf = 0, sq = 0, cq = 0, en = 0, ps = 0, pf = 0;
        foreach (var ctx in s_live.Keys)
        {
            var s = ctx.Statistics;
            it += s.Iterations;
            bw += s.BlockingWaits;
            n += s.Notifies;
            nw += s.NotifyWrites;
            bh += s.BottomHalvesRun;
            fd += s.FdCallbacks;
            tf += s.TimersFired;
            sq += s.SqesSubmitted;
            cq += s.CqesReaped;
            en += s.RingEnters;
            ps += s.PollSuccesses;
            pf += s.PollFailures;
        }

        return new AioStatistics(it, bw, n, nw, bh, fd, tf, sq, cq, en, ps, pf);
    }
}
