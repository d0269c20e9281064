using System.Diagnostics.Tracing;

namespace Aio.Diagnostics;

/// <summary>
/// One thread for the process that samples every live context each half of the smallest
/// <see cref="AioContextOptions.LoopStallThreshold"/> in use, and lets each one report a stall in progress
/// (<see cref="AioContext.CheckForStall"/>). It looks only while someone hears a report: a listener of the event
/// source at Warning, or a <see cref="AioContext.Warning"/> subscriber of a watched context. With nobody to hear, a
/// pass parks the thread until a listener enables the source or somebody subscribes (<see cref="Resume"/>). The thread
/// ends once no context is left (the next watched context starts another).
/// </summary>
/// <remarks>
/// A thread of its own rather than a <see cref="Timer"/>: each timer pass ran on a pool thread, which then spun
/// looking for more work, about a millisecond of CPU per pass, ten passes a second (an idle Kestrel server on the
/// transport used 90 ms of CPU in 10 s instead of 5). Waking this thread costs a context switch and the pass itself.
/// </remarks>
internal static class LoopStallWatchdog
{
    // A monitor, not a Lock: the thread waits on it with a timeout and is pulsed awake.
    private static readonly object s_gate = new();
    private static Thread? s_thread;
    private static long s_periodMs;
    private static long s_samples;
    private static bool s_parked;

    /// <summary>Sampling passes made while someone could hear a report, for tests (a bounded wait on "it looked").</summary>
    internal static long Samples => Volatile.Read(ref s_samples);

    /// <summary>Makes sure the thread runs, sampling at least twice per <paramref name="thresholdNs"/>.</summary>
    public static void Watch(long thresholdNs)
    {
        long periodMs = Math.Max(1, thresholdNs / 2 / 1_000_000);
        lock (s_gate)
        {
            if (s_thread is null)
            {
                s_periodMs = periodMs;
                s_parked = false;
                s_thread = new Thread(Run) { IsBackground = true, Name = "aio-stall-watch" };
                s_thread.UnsafeStart();
            }
            else if (periodMs < s_periodMs)
            {
                // The thread may be waiting out the longer period: it waits again with this one.
                s_periodMs = periodMs;
                Monitor.PulseAll(s_gate);
            }
        }
    }

    /// <summary>
    /// The event source was enabled or changed (<c>OnEventCommand</c>, called after the source's enabled state is
    /// set), or a context got a <see cref="AioContext.Warning"/> subscriber: a parked thread samples again. Any thread.
    /// </summary>
    public static void Resume()
    {
        lock (s_gate)
        {
            if (s_parked)
            {
                s_parked = false;
                Monitor.PulseAll(s_gate);
            }
        }
    }

    /// <summary>Whether the thread is parked because nobody hears a report (for tests).</summary>
    internal static bool IsParked
    {
        get
        {
            lock (s_gate)
            {
                return s_parked;
            }
        }
    }

    /// <summary>Someone hears a stall report: a listener of the event source at Warning, or a watched context's own subscriber.</summary>
    private static bool Listened(ICollection<AioContext> live)
    {
        if (AioEventSource.Log.IsEnabled(EventLevel.Warning, EventKeywords.None))
        {
            return true;
        }

        foreach (var context in live)
        {
            if (context.HasWarningSubscribers && context.IsWatchedForStalls)
            {
                return true;
            }
        }

        return false;
    }

    private static void Run()
    {
        while (true)
        {
            lock (s_gate)
            {
                // Parked: until Resume pulses. Otherwise one period (a shorter period or a Resume pulses it early).
                if (s_parked)
                {
                    Monitor.Wait(s_gate);
                }
                else
                {
                    Monitor.Wait(s_gate, (int)s_periodMs);
                }

                // Under the lock: a context is in the registry before it calls Watch, so an empty registry seen here
                // means any later context starts a new thread.
                if (ContextRegistry.Live.Count == 0)
                {
                    s_thread = null;
                    return;
                }

                if (s_parked)
                {
                    continue;
                }
            }

            Sample();
        }
    }

    private static void Sample()
    {
        var live = ContextRegistry.Live;
        if (!Listened(live))
        {
            lock (s_gate)
            {
                // Checked again under the lock: a Resume that came before this pass's look finds nothing to un-park
                // (and the look saw its listener or subscriber); one after it finds the thread parked and pulses it.
                if (!Listened(ContextRegistry.Live))
                {
                    s_parked = true;
                }
            }

            return;
        }

        long now = AioContext.MonotonicNs();
        foreach (var context in live)
        {
            context.CheckForStall(now);
        }

        Interlocked.Increment(ref s_samples);
    }
}
