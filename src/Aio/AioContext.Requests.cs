using Aio.Async;
using Aio.Diagnostics;
using Aio.Interop;
using Aio.Monitors;
using Aio.Uring;

namespace Aio;

// io_uring requests (QEMU aio_add_sqe / CqeHandler), through the monitor's request side (IRequestRing).
// Completions wait in _completions, a FIFO on the context, so a nested Poll delivers its parent's.
public sealed partial class AioContext
{
    private readonly Queue<Completion> _completions = new();
    private IRequestRing? _requests;
    private TimeSpan _disposeTimeout;
    private TimeSpan _epollSweepInterval;

    /// <summary>True when <see cref="AddSqe{TState}"/> and ring-backed async operations are available.</summary>
    public bool HasIoUring => _requests is not null;

    /// <summary>Whether the ring takes <paramref name="opcode"/> (its probe's answer); false without io_uring.</summary>
    internal bool RingSupports(IoUringOpcode opcode) => _requests?.Ring.Supports(opcode) == true;

    /// <summary>The ring's setup in force; null without io_uring.</summary>
    public IoUringSetup? IoUring => _requests?.Setup;

    /// <summary>The request side of the monitor (null without io_uring). Home thread for anything but reading it.</summary>
    internal IRequestRing? RequestRing => _requests;

    /// <summary>Requests in the kernel (fd polls included), for tests.</summary>
    internal int RequestsInFlight => _requests?.InFlight ?? 0;

    /// <summary>User requests in the kernel (fd polls not counted: their re-arming follows the iteration), for tests.</summary>
    internal int UserRequestsInFlight => _requests?.UserInFlight ?? 0;

    /// <summary>
    /// Fills one submission entry through <paramref name="prepare"/> and sends it to the kernel by the end of the
    /// current loop iteration (a sleeping loop is woken); <paramref name="handler"/> runs on the home thread for its
    /// completion, or once per completion of a multishot request. From another thread, <paramref name="prepare"/> runs
    /// later, on the home thread; the caller never touches the ring.
    /// </summary>
    /// <remarks>
    /// The request is sent and completed by the loop: some thread must run it (an <see cref="IoThread"/>, or
    /// <see cref="Poll(bool)"/>, <see cref="Run"/> or <see cref="RunUntil(ValueTask)"/> on one thread). Adding a request
    /// before the loop runs is allowed (it waits for the first iteration), so this does not throw when nobody runs the
    /// loop yet; but if no thread has ever run the loop 2 seconds after such a request, the
    /// <see cref="AioDiagnostics.EventSourceName"/> event source writes a <c>LoopNotRunning</c> warning (once per
    /// context). That check costs nothing once the loop has run.
    /// </remarks>
    /// <exception cref="NotSupportedException"><see cref="HasIoUring"/> is false.</exception>
    /// <exception cref="AioException">
    /// On the home thread, the submission queue is full and the kernel refuses submissions for now (EAGAIN/EBUSY) or
    /// fails them (ENOMEM, ...). Nothing of the request was taken: it may be retried. Once AddSqe returns, the request
    /// is accepted and completes exactly once.
    /// </exception>
    /// <exception cref="ArgumentException">
    /// On the home thread, <paramref name="prepare"/> set <see cref="SqeFlags.CqeSkipSuccess"/>, <see cref="SqeFlags.IoLink"/> or
    /// <see cref="SqeFlags.IoHardlink"/>. (From another thread the handler instead receives one completion with -EINVAL.)
    /// </exception>
    public void AddSqe<TState>(SqePreparer<TState> prepare, TState state, CqeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfDisposed();
        var requests = _requests ?? throw new NotSupportedException($"AioContext '{Name}' has no io_uring (monitor {Monitor}); check HasIoUring.");
        if (IsOnHomeThread && requests.IsBound)
        {
            AddSqeDirect(requests, prepare, state, handler);
            return;
        }

        requests.Enqueue(PendingSqeOf<TState>.Rent(prepare, state, handler));

        // From here the request is handed over: nothing may throw (the caller would take it as refused). The enqueue is
        // a full fence before this read, and Dispose's CAS on the lifecycle word comes before it abandons the queue:
        // either Dispose's abandon sees this request, or this read sees Dispose and abandons it here (each queued
        // request goes to exactly one taker). Without it, a Dispose between the check above and the enqueue left the
        // request queued for good.
        if (IsDisposed)
        {
            requests.AbandonQueued();
            return;
        }

        NotifyWork();
        if (_homeThreadId == 0)
        {
            // Nobody has run the loop yet: legal if somebody will (see AioContext.LoopWatch.cs), a hang otherwise.
            WatchForALoop();
        }
    }

    /// <summary>
    /// The home thread binds the ring (IORING_REGISTER_ENABLE_RINGS makes it the single issuer). If that fails, the
    /// monitor enables the ring again at the start of the next iteration (it checks before every entry).
    /// </summary>
    private void OnHomeThreadBound() => _monitor.BindHomeThread();

    /// <summary>A nested Poll from an SqePreparer would submit the half-filled entry (issue 10, item 14).</summary>
    private void ThrowIfInsideSqePreparer()
    {
        if (_monitor.IsPreparing)
        {
            throw new InvalidOperationException($"AioContext '{Name}': Poll cannot be called from inside an SqePreparer (the entry being prepared would be submitted half-filled).");
        }
    }

    private bool HasPendingCompletions() => _completions.Count != 0;

    /// <summary>
    /// Home thread, for <see cref="LoopBlockingGuard"/>: what the completions of the loop-bound ring operations in flight
    /// would resume (in the kernel, queued from other threads, or completed and not yet delivered).
    /// </summary>
    internal List<object> LoopBoundContinuations()
    {
        var roots = new List<object>();
        _requests?.ForEachUserRequest(Add);
        foreach (var completion in _completions)
        {
            Add(completion.Handler);
        }

        return roots;

        void Add(CqeHandler handler)
        {
            if (handler is RingOperation { IsLoopBound: true, State: OperationState.InFlight } operation
                && operation.ContinuationState is { } continuation)
            {
                roots.Add(continuation);
            }
        }
    }

    /// <summary>Step 6: deliver completed requests in FIFO order; a nested Poll continues with the rest.</summary>
    private bool DeliverCompletions()
    {
        bool progress = false;
        while (_completions.TryDequeue(out var completion))
        {
            progress = true;
            var cqe = completion.Cqe;
            completion.Handler.OnCompletion(in cqe);
        }

        return progress;
    }

    /// <summary>
    /// <see cref="DisposeRequests"/>; if it throws part way (a bug in an abandon handler), requests it did not reach may
    /// still be in the kernel when the network state goes next, so the receive buffers the kernel picks from are kept
    /// (leaked) rather than freed under it.
    /// </summary>
    private void DisposeRequestsKeepingBuffersIfThrown()
    {
        try
        {
            DisposeRequests();
        }
        catch
        {
            _netLoop?.KernelMayStillWrite();
            throw;
        }
    }

    private void DisposeRequests()
    {
        if (_requests is null)
        {
            return;
        }

        // Raw handlers are not called; the kernel must let go of every request before memory it points at goes away.
        if (!_requests.ReleaseAll(_disposeTimeout))
        {
            AioEventSource.Log.MonitorFallback(
                this,
                "io_uring",
                "none",
                $"requests abandoned in flight at Dispose (not on the home thread, or the kernel took over {_disposeTimeout.TotalSeconds:0.###} s); their memory stays pinned");
        }

        while (_completions.TryDequeue(out var undelivered))
        {
            var cqe = undelivered.Cqe;
            undelivered.Handler.OnAbandonedCompletion(in cqe);
            undelivered.Handler.OnAbandoned(kernelReleased: true);
        }

        ReleaseIoUringSlot();
    }

    private (long Submitted, long Reaped, long Enters) RingCounters()
        => _requests is { } r ? (r.Ring.Submitted, r.Ring.Reaped, r.Ring.Enters) : (0, 0, 0);
}
