using System.Collections.Concurrent;
using Aio.Interop;
using Aio.Uring;

namespace Aio.Monitors;

/// <summary>
/// io_uring monitor (QEMU fdmon-io_uring), the default whenever a ring can be set up.
/// </summary>
/// <remarks>
/// <para><b>Why io_uring.</b> One ring carries both fd readiness and arbitrary kernel requests, so a storage loop
/// waits on disk completions and eventfds in one io_uring_enter, and submits its requests in the same call.</para>
/// <para><b>fd readiness</b> uses one-shot IORING_OP_POLL_ADD, re-armed after every completion. That keeps poll(2)'s
/// level-triggered semantics: a handler that does not drain its fd gets a new completion as soon as the re-armed poll
/// is submitted. Multishot poll is edge-triggered after its first event (QEMU dropped it after it hung the FUSE
/// export), so it is not used here.</para>
/// <para><b>Who touches the ring.</b> Only the home thread: it fills the SQ, enters the kernel and reaps. Other threads
/// hand over handler changes (<see cref="Update"/>) and user requests (<see cref="Enqueue"/>) through lock-free queues,
/// and the context notifies the loop (seed 002: without the notify, a sleeping loop found the SQE only at its next
/// timer).</para>
/// <para><b>Removal is asynchronous.</b> A removed handler's POLL_ADD may still complete; the handler is reclaimed only
/// once that completion has arrived (the POLL_REMOVE's own completion is ignored). A completion that races with a
/// queued removal finds the handler deleted and does not re-arm.</para>
/// <para><b>Task work.</b> With DEFER_TASKRUN a completion can sit in the kernel as task work until the home thread
/// enters: IORING_SQ_TASKRUN says so, and <see cref="NeedWait"/> treats it like a posted completion (seed 000).</para>
/// </remarks>
internal sealed partial class IoUringMonitor : IFdMonitor
{
    private Ring _ring;
    private readonly Action<AioHandler> _onInvalidFd;
    private readonly Queue<Completion> _completions;
    private readonly RequestTable _requests = new();
    private readonly ConcurrentQueue<HandlerChange> _changes = new();
    private readonly ConcurrentQueue<PendingSqe> _foreign = new();
    private PollFd[] _outer;
    private readonly List<AioHandler> _orphans = [];
    private readonly List<PollEvents> _orphanEvents = [];
    private ReadyCollector? _collector;
    private bool _usefulCompletion;

    public IoUringMonitor(Ring ring, Action<AioHandler> onInvalidFd, Queue<Completion> completions)
    {
        _ring = ring;
        _onInvalidFd = onInvalidFd;
        _completions = completions;
        _outer = [new PollFd(ring.Fd, PollEvents.In)];
    }

    public FdMonitorKind Kind => FdMonitorKind.IoUring;

    public IReadOnlyList<PollFd> OuterFds => _outer;

    public Ring Ring => _ring;

    /// <summary>aio-max-batch when the context says 0. Measured with <c>aio bench</c> (4 KiB random reads, queue depth 32,
    /// virtio disk): one submission per iteration 62k IOPS, batches of 8 70k, of 4 73k, of 1 74k (fio: 72k).</summary>
    public const long DefaultMaxBatch = 4;

    /// <summary>Submit as soon as this many SQEs are queued (the context's aio-max-batch). Home thread.</summary>
    public long MaxBatch { get; set; } = DefaultMaxBatch;

    /// <summary>Requests in flight in the kernel (fd polls and user requests).</summary>
    public int InFlight => _requests.InFlight;

    /// <summary>Binds the ring to the calling (home) thread.</summary>
    public void Enable() => _ring.Enable();

    public void Update(int fd, AioHandler? oldHandler, AioHandler? newHandler)
    {
        // Any thread, table lock held. FIFO matters: a handler's add must be seen before its remove.
        if (oldHandler is not null)
        {
            _changes.Enqueue(new HandlerChange(oldHandler, Add: false));
        }

        if (newHandler is not null)
        {
            newHandler.MonitorState = new UringPollState();
            _changes.Enqueue(new HandlerChange(newHandler, Add: true));
        }
    }

    /// <summary>A user request from a foreign thread (or from the home thread before the ring is enabled).</summary>
    public void Enqueue(PendingSqe pending) => _foreign.Enqueue(pending);

    public bool NeedWait()
        => _ring.CqReady != 0
        || (_ring.SqFlags & (IoUringConstants.SqTaskrun | IoUringConstants.SqCqOverflow)) != 0
        || _ring.SqReady != 0
        || !_changes.IsEmpty
        || !_foreign.IsEmpty
        || _orphans.Count != 0;

    /// <summary>True if the monitor holds a reference the kernel may still complete (the POLL_ADD in flight).</summary>
    public static bool InUse(AioHandler handler) => handler.MonitorState is UringPollState { Armed: true };

    public void Wait(ReadyCollector ready, long timeoutNs)
    {
        _collector = ready;
        _usefulCompletion = false;
        AdoptOrphans(ready);
        try
        {
            long deadline = timeoutNs > 0 ? AioContext.MonotonicNs() + timeoutNs : 0;
            while (true)
            {
                FillSq();
                Enter(timeoutNs == 0 ? 0u : 1u, timeoutNs);
                Reap();

                // Completions nobody waits for (a POLL_REMOVE's, a stale one) must not end a blocking wait early.
                if (_usefulCompletion || ready.Count > 0 || timeoutNs == 0 || !_foreign.IsEmpty || !_changes.IsEmpty)
                {
                    return;
                }

                if (timeoutNs > 0)
                {
                    timeoutNs = deadline - AioContext.MonotonicNs();
                    if (timeoutNs <= 0)
                    {
                        return;
                    }
                }
            }
        }
        finally
        {
            _collector = null;
        }
    }

    /// <summary>
    /// Home thread, before busy-polling: hands queued work (re-armed polls, handler changes, foreign requests) to the
    /// kernel without waiting, so that <see cref="NeedWait"/> then means "the kernel has something for us".
    /// </summary>
    public void SubmitPending()
    {
        if (_ring.SqReady != 0 || !_changes.IsEmpty || !_foreign.IsEmpty)
        {
            FillSq();
            SubmitOrReap();
        }
    }

    public void OuterPrepare()
    {
        FillSq();
        SubmitOrReap();
    }

    // CQEs posted, or (COOP_TASKRUN/TASKRUN_FLAG) completions pending as task work: seed 000.
    public bool OuterCheck() => NeedWait();

    /// <summary>
    /// Home thread, the first time an outer loop drives the context: a DEFER_TASKRUN ring is swapped for one of the
    /// COOP_TASKRUN tier. With DEFER_TASKRUN, completion work waits for the submitter to enter the kernel, and a thread
    /// that is already asleep in poll(2) on the ring fd is not woken when it arrives (checked on 6.18: the poll slept
    /// its full timeout and only then saw the fd readable). An outer loop sleeps exactly like that. With COOP_TASKRUN
    /// the sleeping poller is woken. fd polls are re-armed on the new ring; user requests cannot move, so the swap
    /// refuses while any is in flight.
    /// </summary>
    public void PrepareForOuterLoop()
    {
        if (!_ring.Setup.DeferTaskrun)
        {
            return;
        }

        if (_requests.UserInFlight > 0 || !_foreign.IsEmpty || _completions.Count > 0)
        {
            throw new InvalidOperationException(
                "An outer main loop started driving this io_uring context while requests were in flight; attach it before submitting requests.");
        }

        var replacement = Ring.Create(new RingOptions
        {
            Entries = (uint)_ring.Setup.SqEntries,
            ForbiddenFlags = IoUringConstants.SetupSingleIssuer | IoUringConstants.SetupDeferTaskrun,
        });
        var armed = new List<AioHandler>();
        _requests.ForEachFdPoll(armed.Add);
        bool bound = _ring.IsBound;
        var old = _ring;
        _ring = replacement;
        _outer = [new PollFd(replacement.Fd, PollEvents.In)];
        _requests.Clear();
        old.Dispose();
        if (bound)
        {
            _ring.Enable();
        }

        foreach (var handler in armed)
        {
            var state = (UringPollState)handler.MonitorState!;
            state.ArmedUserData = 0;
            if (!state.Removed && !handler.IsDeleted)
            {
                ArmPoll(handler, state);
            }
        }
    }

    public void OuterCollect(ReadyCollector ready)
    {
        _collector = ready;
        AdoptOrphans(ready);
        try
        {
            FillSq();
            Enter(0, 0);
            Reap();
        }
        finally
        {
            _collector = null;
        }
    }

    public void Dispose()
    {
        _requests.Clear();
        _ring.Dispose();
    }

    /// <summary>
    /// Cancels every request in flight and waits (bounded) until the kernel has let go of them, discarding the
    /// completions: memory a request points at must not be released while the kernel may still write it.
    /// Home thread only; returns false if the kernel did not finish in time.
    /// </summary>
    public bool CancelAll(TimeSpan timeout)
    {
        if (_requests.InFlight == 0)
        {
            AbandonQueued();
            return true;
        }

        if (!_ring.IsBound || _ring.OwnerThreadId != Environment.CurrentManagedThreadId)
        {
            // Only the owner may enter the ring. Closing it makes the kernel cancel what is left, asynchronously,
            // so whatever those requests point at must stay pinned.
            int users = _requests.UserInFlight;
            _requests.ForEachUser(static h => h.OnAbandoned(kernelReleased: false));
            AbandonQueued();

            // fd polls point at no user memory: only user requests make this worth reporting.
            return users == 0;
        }

        ref var sqe = ref _ring.NextSqe();
        sqe.PrepCancelFd(0, all: true);

        // ANY matches every request regardless of fd (5.19+); on older kernels the cancel fails and we just wait.
        sqe.OpFlags = IoUringConstants.AsyncCancelAll | IoUringConstants.AsyncCancelAny;
        sqe.Fd = -1;
        sqe.UserData = RequestTable.IgnoreUserData;
        long deadline = AioContext.MonotonicNs() + (long)timeout.TotalNanoseconds;
        while (_requests.InFlight > 0)
        {
            long left = deadline - AioContext.MonotonicNs();
            if (left <= 0)
            {
                return false;
            }

            Enter(1, Math.Min(left, 10_000_000));
            while (_ring.TryGetCqe(out var cqe))
            {
                if (_requests.TryGet(cqe.UserData, out object target, out var kind) && (kind != RequestKind.User || !cqe.HasMore))
                {
                    _requests.Remove(cqe.UserData);
                    if (kind == RequestKind.User)
                    {
                        // Only now may memory the request points at be released.
                        ((CqeHandler)target).OnAbandoned(kernelReleased: true);
                    }
                }
            }
        }

        AbandonQueued();
        return true;
    }

    /// <summary>Requests that never reached the kernel are abandoned at once.</summary>
    public void AbandonQueued()
    {
        while (_foreign.TryDequeue(out var pending))
        {
            var handler = pending.Handler;
            pending.Return();
            handler.OnAbandoned(kernelReleased: true);
        }
    }

    private void AdoptOrphans(ReadyCollector ready)
    {
        for (int i = 0; i < _orphans.Count; i++)
        {
            ready.Add(_orphans[i], _orphanEvents[i]);
        }

        _orphans.Clear();
        _orphanEvents.Clear();
    }

    private void Enter(uint minComplete, long timeoutNs)
    {
        while (true)
        {
            int rc = _ring.SubmitAndWait(minComplete, timeoutNs);
            if (rc >= 0)
            {
                return;
            }

            // EAGAIN/EBUSY: the kernel needs us to consume completions before it takes more submissions.
            Reap();
            minComplete = 0;
            timeoutNs = 0;
        }
    }

    private void SubmitOrReap()
    {
        if (_ring.SqReady == 0)
        {
            return;
        }

        if (_ring.Submit() < 0)
        {
            Reap();
        }
    }

    private void Reap()
    {
        while (_ring.TryGetCqe(out var cqe))
        {
            Process(in cqe);
        }
    }

    private void Process(in Cqe cqe)
    {
        if (!_requests.TryGet(cqe.UserData, out object target, out var kind))
        {
            return;
        }

        if (kind == RequestKind.FdPoll)
        {
            _requests.Remove(cqe.UserData);
            CompleteFdPoll((AioHandler)target, in cqe);
            return;
        }

        if (!cqe.HasMore)
        {
            _requests.Remove(cqe.UserData);
        }

        _usefulCompletion = true;
        _completions.Enqueue(new Completion((CqeHandler)target, cqe));
    }

    /// <summary>Takes a free SQE, making room by submitting (and reaping, if the kernel asks) when the SQ is full.</summary>
    private ref Sqe NextSqe()
    {
        if (_ring.SqSpaceLeft == 0)
        {
            SubmitOrReap();
        }

        return ref _ring.NextSqe();
    }
}
