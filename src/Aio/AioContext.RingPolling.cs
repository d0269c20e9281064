namespace Aio;

// Busy-polling for block I/O completions (QEMU's io_uring block driver registers a poll handler on its completion
// queue: qemu_luring_poll_cb). A loop with BlockFile requests in flight polls the ring before it sleeps, for a window
// of its own that adapts like a handler's (AdjustWindow) to how long the loop blocked in the iterations that completed
// such a request. Only block requests count: a socket's receive is pending for as long as its peer is quiet, and a
// loop serving sockets would otherwise spin for every connection it holds.
public sealed partial class AioContext
{
    private int _pollableInFlight;
    private long _pollableCompletions;
    private long _ringWindowNs;

    /// <summary>Block requests in the ring whose completion the loop busy-polls for (for tests). Home thread.</summary>
    internal int PollableInFlight => _pollableInFlight;

    /// <summary>The busy-poll window for block completions (for tests). Home thread.</summary>
    internal long RingPollWindowNs => _ringWindowNs;

    /// <summary>A block request was prepared into the ring (its preparer, on the home thread).</summary>
    internal void OnPollableSubmitted() => _pollableInFlight++;

    /// <summary>A block request's completion arrived (its handler, on the home thread).</summary>
    internal void OnPollableCompleted()
    {
        _pollableInFlight--;
        _pollableCompletions++;
    }

    /// <summary>The window to poll the ring for: 0 with no block request in flight.</summary>
    private long RingWindow() => _pollableInFlight > 0 ? _ringWindowNs : 0;

    /// <summary>Step 6's follow-up: an iteration that completed block requests adapts the ring's window to its block time.</summary>
    private void AdjustRingWindow(long pollableCompletionsBefore, long blockNs)
    {
        if (_pollableCompletions == pollableCompletionsBefore)
        {
            return;
        }

        long max = Volatile.Read(ref _pollMaxNs);
        _ringWindowNs = max > 0 ? AdjustWindow(_ringWindowNs, blockNs, max, Volatile.Read(ref _pollGrow), Volatile.Read(ref _pollShrink)) : 0;
    }
}
