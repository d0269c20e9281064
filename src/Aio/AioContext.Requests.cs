using Aio.Diagnostics;
using Aio.Interop;
using Aio.Monitors;
using Aio.Uring;

namespace Aio;

/// <summary>
/// io_uring requests (QEMU aio_add_sqe / CqeHandler) and monitor selection with the all-or-none rule.
/// Completions wait in <c>_completions</c>, a FIFO on the context, so a nested Poll delivers its parent's.
/// </summary>
public sealed partial class AioContext
{
    private static int s_liveIoUringContexts;

    private readonly Queue<Completion> _completions = new();
    private IoUringMonitor? _uring;
    private TimeSpan _disposeTimeout;
    private TimeSpan _epollSweepInterval;

    /// <summary>True when <see cref="AddSqe{TState}"/> and ring-backed async operations are available.</summary>
    public bool HasIoUring => _uring is not null;

    /// <summary>The ring's setup in force; null without io_uring.</summary>
    public IoUringSetup? IoUring => _uring?.Ring.Setup;

    /// <summary>Requests in the kernel (fd polls included), for tests.</summary>
    internal int RequestsInFlight => _uring?.InFlight ?? 0;

    /// <summary>User requests in the kernel (fd polls not counted: their re-arming follows the iteration), for tests.</summary>
    internal int UserRequestsInFlight => _uring?.UserInFlight ?? 0;

    /// <summary>
    /// Fills one submission entry through <paramref name="prepare"/> and sends it to the kernel by the end of the
    /// current loop iteration (a sleeping loop is woken); <paramref name="handler"/> runs on the home thread for its
    /// completion, or once per completion of a multishot request. From another thread, <paramref name="prepare"/> runs
    /// later, on the home thread; the caller never touches the ring.
    /// </summary>
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
        var uring = _uring ?? throw new NotSupportedException($"AioContext '{Name}' has no io_uring (monitor {Monitor}); check HasIoUring.");
        if (IsOnHomeThread && uring.Ring.IsBound)
        {
            AddSqeDirect(uring, prepare, state, handler);
            return;
        }

        uring.Enqueue(PendingSqeOf<TState>.Rent(prepare, state, handler));
        Notify();
    }

    private IFdMonitor? CreateIoUringMonitor(AioContextOptions options, bool explicitRequest)
    {
        Ring? ring = null;
        AioException? failure = null;
        if (options.SimulatedIoUringErrno != 0)
        {
            failure = new AioException(options.SimulatedIoUringErrno, "io_uring_setup (simulated)");
        }
        else
        {
            try
            {
                ring = Ring.Create(new RingOptions { Entries = (uint)options.RingEntries, ForbiddenFlags = options.ForbiddenRingFlags });
            }
            catch (AioException ex)
            {
                failure = ex;
            }
        }

        if (ring is not null)
        {
            Interlocked.Increment(ref s_liveIoUringContexts);
            var monitor = new IoUringMonitor(ring, OnInvalidFd, _completions) { CancelStrategy = options.DisposeCancel };
            _disposeTimeout = options.DisposeTimeout;
            _uring = monitor;
            return monitor;
        }

        if (explicitRequest)
        {
            throw new AioException($"AioContext '{Name}': the io_uring monitor was requested but {failure!.Message}", failure.Errno, failure);
        }

        // All or none (DESIGN.md rule 7): AddSqe availability must not depend on which context code happens to get.
        // The simulated failure of the tests is exempt so that they can run beside real io_uring contexts.
        if (options.SimulatedIoUringErrno == 0 && Volatile.Read(ref s_liveIoUringContexts) > 0)
        {
            throw new AioException(
                $"AioContext '{Name}': {failure!.Message}, but another live AioContext in this process uses io_uring; " +
                "contexts are all io_uring or none, so that AddSqe availability is uniform.",
                failure.Errno,
                failure);
        }

        AioEventSource.Log.MonitorFallback(Name, "io_uring", "poll", failure!.Message);
        return null;
    }

    /// <summary>An epoll monitor that reports fds closed behind its back through <see cref="OnInvalidFd"/>.</summary>
    private EpollMonitor NewEpollMonitor() => new(_handlers, OnInvalidFd) { SweepIntervalNs = (long)_epollSweepInterval.TotalNanoseconds };

    /// <summary>
    /// The home thread binds the ring (IORING_REGISTER_ENABLE_RINGS makes it the single issuer). If that fails, the
    /// monitor enables the ring again at the start of the next iteration (it checks before every entry).
    /// </summary>
    private void OnHomeThreadBound() => _uring?.Enable();

    /// <summary>A nested Poll from an SqePreparer would submit the half-filled entry (issue 10, item 14).</summary>
    private void ThrowIfInsideSqePreparer()
    {
        if (_monitor.IsPreparing)
        {
            throw new InvalidOperationException($"AioContext '{Name}': Poll cannot be called from inside an SqePreparer (the entry being prepared would be submitted half-filled).");
        }
    }

    private bool HasPendingCompletions() => _completions.Count != 0;

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

    private void DisposeRequests()
    {
        if (_uring is null)
        {
            return;
        }

        // Raw handlers are not called; the kernel must let go of every request before memory it points at goes away.
        if (!_uring.CancelAll(_disposeTimeout))
        {
            AioEventSource.Log.MonitorFallback(
                Name,
                "io_uring",
                "none",
                $"requests abandoned in flight at Dispose (not on the home thread, or the kernel took over {_disposeTimeout.TotalSeconds:0.###} s); their memory stays pinned");
        }

        _uring.AbandonQueued();
        while (_completions.TryDequeue(out var undelivered))
        {
            undelivered.Handler.OnAbandoned(kernelReleased: true);
        }
        Interlocked.Decrement(ref s_liveIoUringContexts);
    }

    private static bool IsHandlerInUseByMonitor(AioHandler handler) => IoUringMonitor.InUse(handler);

    private (long Submitted, long Reaped, long Enters) RingCounters()
        => _uring is { } u ? (u.Ring.Submitted, u.Ring.Reaped, u.Ring.Enters) : (0, 0, 0);
}
