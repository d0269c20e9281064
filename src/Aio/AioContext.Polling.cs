namespace Aio;

// Adaptive polling (QEMU try_poll_mode, run_poll_handlers, adjust_polling_time), per handler: each handler in the
// polling set keeps its own window; before sleeping, the loop busy-polls the set for the largest window, bounded by
// the timeout. Polling never raises notifyMe: it watches the notified flag through the internal notifier's poll.
public sealed partial class AioContext
{
    /// <summary>The first window when a handler starts growing (QEMU: 4 µs).</summary>
    internal const long InitialWindowNs = 4000;

    private readonly List<AioHandler> _pollingSet = [];
    private long _pollMaxNs;
    private long _pollGrow;
    private long _pollShrink;
    private long _maxBatch;

    /// <summary>How long a polled handler may go without success before it leaves the polling set (io_uring only). 7 s, as in QEMU.</summary>
    internal long PollIdleIntervalNs { get; set; } = 7_000_000_000;

    /// <summary>The adaptive polling ceiling in force (for tests and the hosts that set it). Any thread.</summary>
    internal long PollCeilingNs => Volatile.Read(ref _pollMaxNs);

    /// <summary>The window growth factor in force, 0 = 2 (for tests). Any thread.</summary>
    internal long PollGrowFactor => Volatile.Read(ref _pollGrow);

    /// <summary>The window divisor in force, 0 = reset (for tests). Any thread.</summary>
    internal long PollShrinkDivisor => Volatile.Read(ref _pollShrink);

    /// <summary>Handlers in the polling set (for tests). Home thread.</summary>
    internal int PollingSetCount => _pollingSet.Count;

    /// <summary>The polling window of the handler registered for <paramref name="fd"/>, -1 if none (for tests).</summary>
    internal long PollWindowOf(int fd)
    {
        lock (_handlers.Sync)
        {
            return _handlers.Find(fd) is { } h ? h.Polling?.WindowNs ?? 0 : -1;
        }
    }

    /// <summary>Whether the handler registered for <paramref name="fd"/> is in the polling set (for tests).</summary>
    internal bool IsPolled(int fd)
    {
        lock (_handlers.Sync)
        {
            return _handlers.Find(fd)?.Polling?.InSet ?? false;
        }
    }

    /// <summary>The ceiling, growth factor and divisor of adaptive polling; resets every window to 0. Any thread.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative.</exception>
    public void SetPollParameters(long maxNs, long grow, long shrink)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxNs);
        ArgumentOutOfRangeException.ThrowIfNegative(grow);
        ArgumentOutOfRangeException.ThrowIfNegative(shrink);
        ThrowIfDisposed();
        Volatile.Write(ref _pollGrow, grow);
        Volatile.Write(ref _pollShrink, shrink);
        Volatile.Write(ref _pollMaxNs, maxNs);
        _resetWindows = true;
        NotifyWork();
    }

    /// <summary>Upper bound on the requests a device batches into one submission (QEMU aio-max-batch); 0 = the default.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatch"/> is negative.</exception>
    public void SetAioParameters(long maxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatch);
        ThrowIfDisposed();
        Volatile.Write(ref _maxBatch, maxBatch);
        _requests?.SetMaxBatch(maxBatch);

        NotifyWork();
    }

    /// <summary>The batch bound set by <see cref="SetAioParameters(long)"/> (0: default).</summary>
    internal long MaxBatch => Volatile.Read(ref _maxBatch);

    private volatile bool _resetWindows;

    /// <summary>
    /// The window rule of docs/DESIGN.md "Adaptive polling": keep when the block fit in the window; shrink when it
    /// exceeded the ceiling; grow (from 4 µs, by <paramref name="grow"/> or 2) while both stay under the ceiling.
    /// </summary>
    internal static long AdjustWindow(long windowNs, long blockNs, long maxNs, long grow, long shrink)
    {
        if (blockNs <= windowNs)
        {
            return windowNs;
        }

        if (blockNs > maxNs)
        {
            return shrink == 0 ? 0 : windowNs / shrink;
        }

        if (windowNs < maxNs && blockNs < maxNs)
        {
            // A factor large enough to overflow the product (SetPollParameters takes any) caps at the ceiling instead.
            long factor = grow == 0 ? 2 : grow;
            long next = windowNs == 0 ? InitialWindowNs : windowNs > maxNs / factor ? maxNs : windowNs * factor;
            return Math.Min(next, maxNs);
        }

        return windowNs;
    }

    /// <summary>
    /// Step 2. Returns false (progress is counted when the poll-ready callbacks run). On success the timeout becomes 0;
    /// after polling that found nothing the caller computes it again (it counts <c>_pollFailures</c>).
    /// </summary>
    private bool TryPollMode(ReadyCollector ready, ref long timeoutNs)
    {
        if (_resetWindows)
        {
            _resetWindows = false;
            _ringWindowNs = 0;
            foreach (var h in _pollingSet)
            {
                h.Polling!.WindowNs = 0;
            }
        }

        long ringNs = RingWindow();
        long maxNs = Math.Max(LargestWindow(), ringNs);
        if (timeoutNs >= 0)
        {
            maxNs = Math.Min(maxNs, timeoutNs);
        }

        if (maxNs == 0 || !PollingAllowed())
        {
            return false;
        }

        // io_uring: submit what is queued first; otherwise every iteration after an fd event (which re-arms its
        // POLL_ADD) would skip polling, because an unsubmitted SQE makes the monitor "need" a wait.
        {
            _monitorCalls++;
            try
            {
                _monitor.SubmitPending();
            }
            finally
            {
                _monitorCalls--;
            }
        }

        if (_monitor.NeedWait())
        {
            return false;
        }

        long start = MonotonicNs();
        long now = start;
        bool found;
        do
        {
            // The notifier's own handler is polled only once it has fired (and leaves the set when idle); while this
            // spins, notifyMe is 0 and a Notify writes no eventfd: the loop condition also watches the flag itself.
            found = RunPollHandlersOnce(ready, now);
            if (IsDisposed)
            {
                // A poll callback disposed the context: the monitor is gone.
                return false;
            }

            now = MonotonicNs();
        }
        while (!found && now - start < maxNs && !_monitor.NeedWait() && Volatile.Read(ref _notified) == 0);

        if (!found && ringNs > 0 && _monitor.HasKernelCompletions)
        {
            // The ring has completions (or their task work) ready: what the block requests' poll was for. (Not any
            // NeedWait: a request queued from another thread during the spin also ends it, and is no completion.)
            found = true;
        }

        if (found)
        {
            _pollSuccesses++;
            timeoutNs = 0;
        }
        else
        {
            // The caller computes the timeout again (Poll, step 2): the callbacks that just ran may have changed it.
            _pollFailures++;
        }

        RemoveIdlePollHandlers(ready, now, ref timeoutNs);
        return false;
    }

    private bool PollingAllowed()
    {
        if (Volatile.Read(ref _pollMaxNs) == 0 || (_pollingSet.Count == 0 && RingWindow() == 0))
        {
            return false;
        }

        // poll(2)/epoll: a handler without a poll callback would starve while we spin, so no polling at all.
        return _monitor.Kind == FdMonitorKind.IoUring || _handlers.WithoutPoll == 0;
    }

    private long LargestWindow()
    {
        long max = 0;
        foreach (var h in _pollingSet)
        {
            max = Math.Max(max, h.Polling!.WindowNs);
        }

        return max;
    }

    private bool RunPollHandlersOnce(ReadyCollector ready, long now)
    {
        bool found = false;

        // By index, the count read each time: a poll callback may run a nested iteration, whose dispatches add handlers
        // to the set and whose idle sweep removes them (an enumerator would throw; a handler moved is polled again or
        // not, which a poll allows).
        for (int i = 0; i < _pollingSet.Count; i++)
        {
            var h = _pollingSet[i];
            var state = h.Polling!;
            if (h.IsDeleted || state.InPollReady || h.Poll is not { } poll)
            {
                continue;
            }

            if (poll())
            {
                found = true;
                state.IdleDeadline = now + PollIdleIntervalNs;
                if (!h.IsInternal)
                {
                    ready.AddPolled(h);
                }
            }

            if (IsDisposed)
            {
                break;
            }
        }

        return found;
    }

    /// <summary>io_uring only (d37d0e365a): handlers idle for the interval leave the set after a last poll.</summary>
    private void RemoveIdlePollHandlers(ReadyCollector ready, long now, ref long timeoutNs)
    {
        if (_monitor.Kind != FdMonitorKind.IoUring)
        {
            return;
        }

        for (int i = _pollingSet.Count - 1; i >= 0; i--)
        {
            if (i >= _pollingSet.Count)
            {
                // The last poll callback ran a nested iteration that shrank the set.
                continue;
            }

            var h = _pollingSet[i];
            var state = h.Polling!;
            if (state.IdleDeadline == 0)
            {
                state.IdleDeadline = now + PollIdleIntervalNs;
            }
            else if (now >= state.IdleDeadline && !state.InPollReady)
            {
                RemoveFromPollingSet(i);
                if (!h.IsDeleted && !h.IsInternal && h.Poll is { } poll && poll())
                {
                    ready.AddPolled(h);
                    timeoutNs = 0;
                }

                if (IsDisposed)
                {
                    return;
                }
            }
        }
    }

    private void RemoveFromPollingSet(int index)
    {
        var state = _pollingSet[index].Polling!;
        state.InSet = false;
        state.IdleDeadline = 0;
        int last = _pollingSet.Count - 1;
        _pollingSet[index] = _pollingSet[last];
        _pollingSet.RemoveAt(last);
    }

    /// <summary>
    /// Step 8 for a handler whose busy-poll check saw work: run its pollReady (or onReadable when it has none) while
    /// it is out of the polling set. Progress, even when the handler was removed meanwhile (its poll saw work).
    /// </summary>
    private bool DispatchPollReady(AioHandler handler)
    {
        if (handler.IsDeleted)
        {
            return true;
        }

        var state = handler.Polling!;
        _fdCallbacks++;
        state.InPollReady = true;
        try
        {
            (handler.PollReady ?? handler.OnReadable)?.Invoke();
        }
        finally
        {
            state.InPollReady = false;
        }

        return true;
    }

    /// <summary>Step 8, after each dispatch: join the polling set, adjust the window with this iteration's block time.</summary>
    private void AfterDispatch(AioHandler handler, long blockNs)
    {
        if (handler.Polling is not { } state || handler.IsDeleted)
        {
            return;
        }

        if (!state.InSet)
        {
            state.InSet = true;
            state.IdleDeadline = 0;
            _pollingSet.Add(handler);
        }

        long max = Volatile.Read(ref _pollMaxNs);
        if (max > 0)
        {
            state.WindowNs = AdjustWindow(state.WindowNs, blockNs, max, Volatile.Read(ref _pollGrow), Volatile.Read(ref _pollShrink));
        }
    }

    /// <summary>Deleted handlers leave the polling set (outermost loop, with the reclaim).</summary>
    private void PrunePollingSet()
    {
        for (int i = _pollingSet.Count - 1; i >= 0; i--)
        {
            if (_pollingSet[i].IsDeleted)
            {
                RemoveFromPollingSet(i);
            }
        }
    }
}
