namespace Aio;

// Counters. Home-thread counters are plain fields (one writer); cross-thread ones use Interlocked.
public sealed partial class AioContext
{
    private long _iterations;
    private long _blockingWaits;
    private long _notifies;
    private long _notifyWrites;
    private long _bottomHalvesRun;
    private long _fdCallbacks;
    private long _timersFired;
    private long _pollSuccesses;
    private long _pollFailures;

    /// <summary>Counters since creation. A snapshot: cheap, from any thread, each counter read atomically.</summary>
    public AioStatistics Statistics
    {
        get
        {
            var (submitted, reaped, enters) = RingCounters();
            return new AioStatistics(
                Volatile.Read(ref _iterations),
                Volatile.Read(ref _blockingWaits),
                Volatile.Read(ref _notifies),
                Volatile.Read(ref _notifyWrites),
                Volatile.Read(ref _bottomHalvesRun),
                Volatile.Read(ref _fdCallbacks),
                Volatile.Read(ref _timersFired),
                submitted,
                reaped,
                enters,
                Volatile.Read(ref _pollSuccesses),
                Volatile.Read(ref _pollFailures));
        }
    }
}
