using System.Diagnostics.Tracing;

namespace Aio.Diagnostics;

/// <summary>
/// One timer for the process that samples every live context each half of the smallest
/// <see cref="AioContextOptions.LoopStallThreshold"/> in use, and lets each one report a stall in progress
/// (<see cref="AioContext.CheckForStall"/>). It looks only while someone listens to the event source at Warning or
/// subscribes to a context's <see cref="AioContext.Warning"/>: with nobody listening, the first pass parks the timer
/// until a listener enables the source or subscribes (<see cref="Resume"/>), so an idle process is not woken ten times
/// a second for nothing (each pass also woke a pool thread, which then spun). It stops once no context is left (the
/// next watched context starts it again).
/// </summary>
internal static class LoopStallWatchdog
{
    private static readonly Lock s_lock = new();
    private static Timer? s_timer;
    private static long s_periodMs;
    private static long s_samples;
    private static bool s_parked;

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
                s_parked = false;
            }
            else if (periodMs < s_periodMs)
            {
                s_periodMs = periodMs;
                if (!s_parked)
                {
                    s_timer.Change(periodMs, periodMs);
                }
            }
        }
    }

    /// <summary>
    /// The event source was enabled or changed (<c>OnEventCommand</c>, called after the source's enabled state is
    /// set), or a context got a <see cref="AioContext.Warning"/> subscriber: a parked timer samples again. Any thread.
    /// </summary>
    public static void Resume()
    {
        lock (s_lock)
        {
            if (s_parked && s_timer is not null)
            {
                s_timer.Change(s_periodMs, s_periodMs);
            }

            s_parked = false;
        }
    }

    /// <summary>Whether the timer is parked because nobody listens (for tests).</summary>
    internal static bool IsParked
    {
        get
        {
            lock (s_lock)
            {
                return s_parked;
            }
        }
    }

    /// <summary>Someone hears a stall report: a listener of the event source at Warning, or a context's own Warning subscriber.</summary>
    private static bool Listened => AioEventSource.Log.IsEnabled(EventLevel.Warning, EventKeywords.None) || AnyWarningSubscriber();

    private static bool AnyWarningSubscriber()
    {
        foreach (var context in ContextRegistry.Live)
        {
            if (context.HasWarningSubscribers)
            {
                return true;
            }
        }

        return false;
    }

    private static void Park()
    {
        lock (s_lock)
        {
            // Checked again under the lock: an enable that Resume saw before this pass parks nothing, and one after
            // it finds the timer parked and restarts it.
            if (s_timer is not null && !Listened)
            {
                s_timer.Change(Timeout.Infinite, Timeout.Infinite);
                s_parked = true;
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

        if (!Listened)
        {
            Park();
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
