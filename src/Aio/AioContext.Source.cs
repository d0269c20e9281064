namespace Aio;

// The outer-loop path (QEMU aio_ctx_prepare / aio_ctx_check / aio_ctx_dispatch).
public sealed partial class AioContext
{
    private AioSource? _source;

    // A refused ring swap for the outer loop is reported once: it is tried again at every Prepare.
    private bool _outerSwapRefusalReported;

    /// <summary>Embeds the context in an outer main loop (GLib or any poll-based loop).</summary>
    public AioSource Source
    {
        get
        {
            // One for every thread: a FdsChanged subscription on a second instance would never be raised.
            if (Volatile.Read(ref _source) is { } source)
            {
                return source;
            }

            Interlocked.CompareExchange(ref _source, new AioSource(this), null);
            return _source;
        }
    }

    internal IReadOnlyList<PollFd> OuterFds => _monitor.OuterFds;

    internal bool SourcePrepare(out int timeoutMs)
    {
        ThrowIfDisposed();
        EnterBoundSection();
        try
        {
            _monitorCalls++;
            try
            {
                int refused = _monitor.PrepareForOuterLoop();
                if (refused != 0 && !_outerSwapRefusalReported)
                {
                    // Silent, the outer loop would wake every millisecond for as long as the fds (or locked memory) stay
                    // short, with nothing to say why.
                    _outerSwapRefusalReported = true;
                    Diagnostics.AioEventSource.Log.MonitorFallback(
                        this,
                        "io_uring (a COOP_TASKRUN ring for the outer loop)",
                        "io_uring (its DEFER_TASKRUN ring, outer sleeps of at most 1 ms)",
                        $"io_uring_setup failed with errno {refused}; tried again at every Prepare");
                }

                if (_pollDepth == 0)
                {
                    MaybeSwitchMonitor();
                }

                // Bit 0: an outer loop may sleep from now on, so Notify must write the eventfd. The full fence orders it
                // before the reads of the work lists below (pairs with Notify's fence).
                Interlocked.Or(ref _notifyMe, 1);

                // The outer loop may sleep without looking at notified: a flag left set by a Notify that came while
                // nobody slept would make the next Notify skip its write (coalescing, AioContext.Notify.cs). Work
                // published before this clear is seen by ComputeTimeoutNs below; a Notify after it writes.
                AcceptNotify();
                _monitor.OuterPrepare();
            }
            finally
            {
                _monitorCalls--;
            }

            long timeoutNs = ComputeTimeoutNs();

            // io_uring shows readiness in memory: completions posted or held as task work mean "dispatch now". (A
            // pending Notify is no reason: like QEMU, a wake-up that came before the sleep is not work.)
            if (_monitor.Kind == FdMonitorKind.IoUring && _monitor.NeedWait())
            {
                timeoutNs = 0;
            }

            // Some completions cannot wake a sleeping outer loop (a DEFER_TASKRUN ring not swapped yet): come back soon enough.
            long maxNs = _monitor.OuterMaxTimeoutNs;
            if (maxNs >= 0 && (timeoutNs < 0 || timeoutNs > maxNs))
            {
                timeoutNs = maxNs;
            }

            timeoutMs = timeoutNs < 0 ? -1 : (int)Math.Min(int.MaxValue, (timeoutNs + 999_999) / 1_000_000);
            return timeoutMs == 0;
        }
        finally
        {
            ExitSection();
        }
    }

    internal bool SourceCheck()
    {
        ThrowIfDisposed();
        EnterBoundSection();
        try
        {
            Interlocked.And(ref _notifyMe, ~1);
            AcceptNotify();
            if (HasRunnableBottomHalf() || HasPendingCompletions())
            {
                return true;
            }

            // io_uring: CQEs posted, or held as task work (IORING_SQ_TASKRUN, seed 000): the ring fd polled readable
            // but the CQ can still be empty until we enter the kernel, which Dispatch does.
            if (_monitor.OuterCheck())
            {
                return true;
            }

            return TimerExpired(_monotonicTimers) || TimerExpired(_wallClockTimers);
        }
        finally
        {
            ExitSection();
        }

        bool TimerExpired(TimerList list)
        {
            long first = list.FirstExpire;
            return first >= 0 && first <= Now(list.Clock);
        }
    }

    internal void SourceDispatch()
    {
        using var scope = EnterLoop();
        var ready = scope.Ready;

        // Not asleep while dispatching (an outer loop skips Check when Prepare said "ready"). After each step that
        // runs callbacks, stop if one of them disposed the context (see Poll).
        Interlocked.And(ref _notifyMe, ~1);
        AcceptNotify();
        RunBottomHalves();
        if (IsDisposed)
        {
            return;
        }

        _monitorCalls++;
        try
        {
            _monitor.OuterCollect(ready);
        }
        finally
        {
            _monitorCalls--;
        }

        DeliverCompletions();
        if (IsDisposed)
        {
            return;
        }

        DispatchReadyHandlers(ready, 0);
        if (IsDisposed)
        {
            return;
        }

        if (scope.Depth == 1)
        {
            ReclaimDeletedHandlers();
        }

        RunTimers();
        _iterations++;
    }
}
