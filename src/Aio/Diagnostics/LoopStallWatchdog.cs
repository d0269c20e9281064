using System.Diagnostics.Tracing;

namespace Aio.Diagnostics;

/// <summary>
/// One timer for the process that samples every live context each half of the smallest
/// <see cref="AioContextOptions.LoopStallThreshold"/> in use, and lets each one report a stall in progress
/// (<see cref="AioContext.CheckForStall"/>). It looks only while someone listens to the event source at Warning, and
/// stops once no context is left (the next watched context starts it again).
/// </summary>
internal static class LoopStallWatchdog
{
    private static readonly Lock s_lock = new();
    private static Timer? s_timer;
    private static long s_periodMs;
    private static long s_samples;

    /// <summary>Sampling passes made while the event source was enabled, for tests (a bounded wait on "it looked").</summary>
    internal static long Samples => Volatile.Read(ref s_samples);

    /// <summary>Makes sure the timer runs, at least twice per <paramref name="thresholdNs"/>.</summary>
    public static void Watch(long thresholdNs)
    {
        long periodMs = Math.Max(1, thresholdNs / 2 / 1_000_000);
        lock (s_lock)
        {
            if (s_timer is null)
            {
                // Kept in a static: an unreferenced Timer may be collected before it fires.
                s_timer = new Timer(static _ => Sample(), null, periodMs, periodMs);
                s_periodMs = periodMs;
            }
            else if (periodMs < s_periodMs)
            {
                s_timer.Change(periodMs, periodMs);
                s_periodMs = periodMs;
            }
        }
    }

    private static void Sample()
    {
        if (ContextRegistry.Live.Count == 0)
        {
            lock (s_lock)
            {
                // Under the lock: a context is in the registry before it calls Watch, so an empty registry seen here
                // means any later context starts a new timer.
                if (ContextRegistry.Live.Count == 0 && s_timer is not null)
                {
                    s_timer.Dispose();
                    s_timer = null;
                }
            }

            return;
        }

        if (!AioEventSource.Log.IsEnabled(EventLevel.Warning, EventKeywords.None))
        {
            return;
        }

        long now = AioContext.MonotonicNs();
        foreach (var context in ContextRegistry.Live)
        {
            context.CheckForStall(now);
        }

        Interlocked.Increment(ref s_samples);
    }
}
