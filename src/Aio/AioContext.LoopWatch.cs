using Aio.Diagnostics;

namespace Aio;

// The one trap the loop can see coming: ring requests submitted to a context whose loop nobody runs. A request is
// delivered by the loop iteration that reaps it, so without a thread running the loop (an IoThread, Poll, Run,
// RunUntil, an outer loop through Source) it waits for good, and so does its awaiter.
//
// Submitting first and running the loop later is legal (`ctx.RunUntil(ctx.ReadAsync(...))` does exactly that), so
// the submission cannot throw. Instead, the first request submitted from a thread while no thread has ever run the
// loop starts a one-shot watch; if still no thread has run the loop when it expires, the
// Aio-EventLoop event source writes a `LoopNotRunning` warning (Aio.Hosting forwards
// it to the log). Once per context, and never on a running loop: the home thread's submissions and those of any
// thread once the loop has run pay one field read, no atomic.
public sealed partial class AioContext
{
    private readonly TimeSpan _loopNotRunningDelay;
    private int _loopWatchStarted;
    private Timer? _loopWatch;
    private int _loopWatchChecks;

    /// <summary>Whether a watch was started, for tests.</summary>
    internal bool LoopWatchStarted => Volatile.Read(ref _loopWatchStarted) != 0;

    /// <summary>Times the watch looked (0 or 1), for tests.</summary>
    internal int LoopWatchChecks => Volatile.Read(ref _loopWatchChecks);

    /// <summary>A request was queued for the loop while no thread has run it: watch, once, whether one ever does.</summary>
    private void WatchForALoop()
    {
        if (Volatile.Read(ref _loopWatchStarted) != 0 || Interlocked.Exchange(ref _loopWatchStarted, 1) != 0)
        {
            return;
        }

        // Kept in a field: an unreferenced Timer may be collected before it fires.
        _loopWatch = new Timer(static s => ((AioContext)s!).CheckSomebodyRunsTheLoop(), this, _loopNotRunningDelay, Timeout.InfiniteTimeSpan);
    }

    private void CheckSomebodyRunsTheLoop()
    {
        if (Volatile.Read(ref _homeThreadId) == 0 && !IsDisposed)
        {
            AioEventSource.Log.LoopNotRunning(this, (long)_loopNotRunningDelay.TotalMilliseconds);
        }

        Interlocked.Increment(ref _loopWatchChecks);
        _loopWatch = null;
    }
}
