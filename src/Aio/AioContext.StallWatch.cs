using Aio.Diagnostics;

namespace Aio;

// The stalled-loop watch: the loop publishes when it left its wait (one plain store per step of the iteration), and
// LoopStallWatchdog, one thread for the whole process, compares that with the clock. A loop that has been
// out of its wait, running one iteration's callbacks, for longer than
// LoopStallThreshold gets one `LoopStalled` warning per stall.
//
// The loop side costs no atomic and no extra clock read at depth 1: the times stored are the ones the iteration
// already reads. What is watched is every Poll(bool) level (IoThreads, `Run`, `RunUntil`, a
// thread polling by hand); a context driven by an outer main loop through Source is not.
public sealed partial class AioContext
{
    /// <summary>
    /// CLOCK_MONOTONIC ns when the loop last left its wait (or began an iteration), 0 while it is in the kernel wait
    /// or between iterations. Written with plain stores by the home thread only; read by the watchdog's thread, which
    /// needs no ordering with anything else: an aligned long is never torn, and a value one sample late only delays a
    /// warning by one period.
    /// </summary>
    private long _callbacksSinceNs;

    /// <summary>The <see cref="_callbacksSinceNs"/> value last reported stalled (the watchdog's only): one warning per stall.</summary>
    private long _stallReportedSinceNs;

    /// <summary><see cref="AioContextOptions.LoopStallThreshold"/> in ns; 0 = not watched.</summary>
    private long _stallThresholdNs;

    /// <summary>Whether the stall watchdog looks at this context (its threshold is not infinite).</summary>
    internal bool IsWatchedForStalls => _stallThresholdNs != 0;

    /// <summary>The threshold this context is watched with (<see cref="Timeout.InfiniteTimeSpan"/>: not watched).</summary>
    internal TimeSpan LoopStallThreshold => _stallThresholdNs == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromTicks(_stallThresholdNs / 100);

    private static void ValidateStallThreshold(AioContextOptions options)
    {
        var threshold = options.LoopStallThreshold;
        if (threshold != Timeout.InfiniteTimeSpan && (threshold <= TimeSpan.Zero || threshold.TotalDays > 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), threshold, "LoopStallThreshold must be positive and at most a day, or Timeout.InfiniteTimeSpan.");
        }
    }

    /// <summary>Called last in the constructor (after the context is in the registry the watchdog walks).</summary>
    private void WatchForStalls(AioContextOptions options)
    {
        if (options.LoopStallThreshold == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        _stallThresholdNs = options.LoopStallThreshold.Ticks * 100;
        LoopStallWatchdog.Watch(_stallThresholdNs);
    }

    /// <summary>
    /// The watchdog's look at this context, on its timer thread: reports the stall in progress if it is over the
    /// threshold and not reported yet.
    /// </summary>
    internal void CheckForStall(long nowNs)
    {
        long threshold = _stallThresholdNs;
        long since = Volatile.Read(ref _callbacksSinceNs);
        if (threshold == 0 || since == 0 || nowNs - since < threshold || IsDisposed)
        {
            return;
        }

        // Timer callbacks may overlap when one runs late: the exchange makes the report once per stall all the same.
        if (Interlocked.Exchange(ref _stallReportedSinceNs, since) == since)
        {
            return;
        }

        AioEventSource.Log.LoopStalled(this, (nowNs - since) / 1_000_000, threshold / 1_000_000);
    }
}
