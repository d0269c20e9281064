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
/// export), so it is not used here. The re-arm waits for the next fill of the SQ (after dispatch), never happens inside
/// the reap: a poll on a ready fd completes during its own submission, so re-arming while reaping would feed the reap
/// for ever once more fds are ready than the SQ has entries (issue 10, item 9).</para>
/// <para><b>Who touches the ring.</b> Only the home thread: it fills the SQ, enters the kernel and reaps. Other threads
/// hand over handler changes (<see cref="Update"/>) and user requests (<see cref="Enqueue"/>) through lock-free queues,
/// and the context notifies the loop (seed 002: without the notify, a sleeping loop found the SQE only at its next
/// timer).</para>
/// <para><b>Back-pressure.</b> A request is accepted exactly once or refused with nothing left behind. Work is taken
/// off a queue only once an SQE slot is free for it (<see cref="TryMakeRoom"/>); when the kernel refuses submissions
/// (EAGAIN/EBUSY) the rest stays queued for the next iteration. An entry in the SQ is accepted: a later submission
/// failure leaves it there to be submitted again, and is never reported to the caller who added it.</para>
/// <para><b>Removal is asynchronous.</b> A removed handler's POLL_ADD may still complete; the handler is reclaimed only
/// once that completion has arrived (the POLL_REMOVE's own completion is ignored). A completion that races with a
/// queued removal finds the handler deleted and does not re-arm.</para>
/// <para><b>Task work.</b> With DEFER_TASKRUN a completion can sit in the kernel as task work until the home thread
/// enters: IORING_SQ_TASKRUN says so, and <see cref="NeedWait"/> treats it like a posted completion (seed 000).</para>
/// </remarks>
internal sealed partial class IoUringMonitor : IFdMonitor, IRequestRing
{
    /// <summary>user_data of the CANCEL_ALL|CANCEL_ANY entry of <see cref="CancelAll"/>, whose result decides the fallback.</summary>
    private const ulong CancelAnyUserData = ulong.MaxValue - 1;

    /// <summary>How long an outer loop may sleep while a DEFER_TASKRUN ring waits to be swapped (its completions do not wake it).</summary>
    private const long DeferredSwapPollNs = 1_000_000;

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
    private bool _submitRefused;
    private int _refusedErrno;
    private bool _outerSwapPending;
    private bool _disposed;

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

    /// <summary>
    /// aio-max-batch when the context says 0. Measured with <c>aio bench</c> (4 KiB random O_DIRECT reads, one loop,
    /// medians of 3 interleaved rounds), requests/s by batch size 8 / 16 / 32 / one submission per iteration:
    /// virtio disk, depth 32: 182k / 181k / 152k / 157k; depth 128: 171k / 199k / 206k / 202k. tmpfs (CPU-bound),
    /// depth 32: 480k / 623k / 632k / 655k; depth 128: 638k / 722k / 729k / 627k. Small batches cost one
    /// io_uring_enter each, which a CPU-bound target cannot afford (4 gave 360k and 450k there); one submission of a
    /// whole iteration reaches a disk as one burst at moderate depths. 16 is close to the best on both.
    /// </summary>
    public const long DefaultMaxBatch = 16;

    /// <summary>Submit as soon as this many SQEs are queued (the context's aio-max-batch). Home thread.</summary>
    public long MaxBatch { get; set; } = DefaultMaxBatch;

    /// <summary>User requests in flight in the kernel.</summary>
    public int UserInFlight => _requests.UserInFlight;

    /// <summary>Requests in flight in the kernel (fd polls and user requests).</summary>
    public int InFlight => _requests.InFlight;

    /// <summary>Register the ring fd with the home thread when it binds (see <see cref="Bind"/>; IoThreads only).</summary>
    public bool RegisterRingFd { get; init; }

    /// <summary>How <see cref="CancelAll"/> cancels (tests force the pre-5.19 path or a kernel that cancels nothing).</summary>
    public CancelStrategy CancelStrategy { get; init; }

    /// <summary>Handlers reaped outside a wait, waiting for the next one: the next iteration must not sleep.</summary>
    public bool HasReadyWork => _orphans.Count != 0;

    public bool HasKernelCompletions
        => !_disposed && (_ring.CqReady != 0 || (_ring.SqFlags & (IoUringConstants.SqTaskrun | IoUringConstants.SqCqOverflow)) != 0);

    /// <summary>An SqePreparer is running (home thread): the entry it fills is already counted in the SQ tail.</summary>
    public bool IsPreparing => _inPrepare;

    /// <summary>
    /// While a DEFER_TASKRUN ring waits for its requests to finish before the outer-loop swap, an outer loop sleeping on
    /// the ring fd is not woken by their completions: it must come back within this many nanoseconds. -1 otherwise.
    /// </summary>
    public long OuterMaxTimeoutNs => _outerSwapPending ? DeferredSwapPollNs : -1;

    /// <summary>Binds the ring to the calling (home) thread. May throw <see cref="AioException"/>; calling it again retries.</summary>
    public void Enable() => Bind();

    public IRequestRing? Requests => this;

    public IoUringSetup Setup => _ring.Setup;

    public bool IsBound => _ring.IsBound;

    public void BindHomeThread() => Bind();

    public void SetMaxBatch(long maxBatch) => MaxBatch = maxBatch == 0 ? DefaultMaxBatch : maxBatch;

    public bool HoldsHandler(AioHandler handler) => InUse(handler);

    public bool ReleaseAll(TimeSpan timeout)
    {
        bool released = CancelAll(timeout);
        AbandonQueued();
        return released;
    }

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

    public void ForEachUserRequest(Action<CqeHandler> action)
    {
        _requests.ForEachUser(action);

        // A snapshot: other threads may enqueue meanwhile; only this (home) thread dequeues, so no entry is returned to
        // its pool while the walk looks at it.
        foreach (var pending in _foreign)
        {
            action(pending.Handler);
        }
    }

    /// <summary>A user request from a foreign thread (or from the home thread before the ring is enabled).</summary>
    public void Enqueue(PendingSqe pending) => _foreign.Enqueue(pending);

    public bool NeedWait()
        => HasKernelCompletions
        || (!_disposed
            && (_ring.SqReady != 0
            || _rearm.Count != 0
            || !_changes.IsEmpty
            || !_foreign.IsEmpty
            || _orphans.Count != 0));

    /// <summary>True if the monitor holds a reference the kernel may still complete (the POLL_ADD in flight).</summary>
    public static bool InUse(AioHandler handler) => handler.MonitorState is UringPollState { Armed: true };

    public void Wait(ReadyCollector ready, long timeoutNs)
    {
        if (_disposed)
        {
            return;
        }

        EnsureEnabled();
        _collector = ready;
        _usefulCompletion = false;
        _submitRefused = false;
        AdoptOrphans(ready);
        try
        {
            long deadline = timeoutNs > 0 ? AioContext.MonotonicNs() + timeoutNs : 0;
            while (true)
            {
                FillSq();

                // Work collected before the enter (completions reaped while making room for a refused submission, in
                // this FillSq or before the wait began; adopted orphans) must not wait for the next completion: that
                // enter only submits.
                bool collected = _usefulCompletion || _submitRefused || ready.Count > 0 || _completions.Count != 0;
                Enter(timeoutNs == 0 || collected ? 0u : 1u, collected ? 0 : timeoutNs);
                Reap();

                // Completions nobody waits for (a POLL_REMOVE's, a stale one) must not end a blocking wait early. A refused
                // submission ends it: the iteration runs what was reaped, and the next one submits again.
                if (collected || _usefulCompletion || ready.Count > 0 || timeoutNs == 0 || _submitRefused || !_foreign.IsEmpty || !_changes.IsEmpty)
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
        if (_disposed)
        {
            return;
        }

        EnsureEnabled();
        if (_ring.SqReady != 0 || _rearm.Count != 0 || !_changes.IsEmpty || !_foreign.IsEmpty)
        {
            FillSq();
            SubmitOrRelieve();
        }
    }

    public void OuterPrepare()
    {
        if (_disposed)
        {
            return;
        }

        EnsureEnabled();
        FillSq();
        SubmitOrRelieve();
    }

    // CQEs posted, or (COOP_TASKRUN/TASKRUN_FLAG) completions pending as task work: seed 000.
    public bool OuterCheck() => NeedWait();

    /// <summary>The ring flags a context driven by an outer loop must not have (see <see cref="PrepareForOuterLoop"/>).</summary>
    internal const uint OuterLoopForbiddenFlags = IoUringConstants.SetupSingleIssuer | IoUringConstants.SetupDeferTaskrun;

    /// <summary>
    /// Home thread, whenever an outer loop prepares to drive the context: a DEFER_TASKRUN ring is swapped for one of the
    /// COOP_TASKRUN tier. With DEFER_TASKRUN, completion work waits for the submitter to enter the kernel, and a thread
    /// that is already asleep in poll(2) on the ring fd is not woken when it arrives (checked on 6.18: the poll slept
    /// its full timeout and only then saw the fd readable). An outer loop sleeps exactly like that. With COOP_TASKRUN
    /// the sleeping poller is woken. fd polls are re-armed on the new ring; user requests cannot move, so while any is
    /// in flight or queued the swap waits, and meanwhile <see cref="OuterMaxTimeoutNs"/> keeps the outer loop's sleeps
    /// short enough that its Check and Dispatch enter the kernel and run the completions.
    /// </summary>
    public int PrepareForOuterLoop()
    {
        if (_disposed || !_ring.Setup.DeferTaskrun)
        {
            _outerSwapPending = false;
            return 0;
        }

        if (_requests.UserInFlight > 0 || !_foreign.IsEmpty || _completions.Count > 0)
        {
            _outerSwapPending = true;
            return 0;
        }

        Ring replacement;
        try
        {
            replacement = Ring.Create(new RingOptions
            {
                Entries = (uint)_ring.Setup.SqEntries,
                ForbiddenFlags = OuterLoopForbiddenFlags,
            });
        }
        catch (AioException ex)
        {
            // No second ring now (EMFILE, ENOMEM under the locked-memory limit): stay on this one, as while a swap
            // waits for user requests (short outer sleeps), and try again at the next Prepare. Thrown, it would fail
            // every Prepare, and the outer loop, told to come back at once each time, would spin. The context reports it.
            _outerSwapPending = true;
            return ex.Errno;
        }

        var armed = new List<AioHandler>();
        _requests.ForEachFdPoll(armed.Add);
        bool bound = _ring.IsBound;
        var old = _ring;
        _ring = replacement;
        _outer = [new PollFd(replacement.Fd, PollEvents.In)];
        _requests.Clear();
        old.Dispose();
        ForgetRegistrationTables();
        _outerSwapPending = false;
        foreach (var handler in armed)
        {
            var state = (UringPollState)handler.MonitorState!;
            state.ArmedUserData = 0;

            // Armed again by the next FillSq, like any completed poll.
            _rearm.Add(handler);
        }

        if (bound)
        {
            Bind();
        }

        return 0;
    }

    public void OuterCollect(ReadyCollector ready)
    {
        if (_disposed)
        {
            return;
        }

        EnsureEnabled();
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
        if (_disposed)
        {
            return;
        }

        // First: from here on the loop finds nothing to do (NeedWait false, Wait returns), so a Poll that a callback
        // disposed under its feet never touches the closed ring.
        _disposed = true;
        _requests.Clear();
        _rearm.Clear();
        _orphans.Clear();
        _orphanEvents.Clear();
        _ring.Dispose();
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

    /// <summary>
    /// The ring is created disabled and bound by <see cref="Enable"/>; a failed enable (a transient ENOMEM, say) left it
    /// unbound, and the next iteration tries again instead of bricking the context.
    /// </summary>
    private void EnsureEnabled()
    {
        if (!_ring.IsBound)
        {
            Bind();
        }
    }

    /// <summary>
    /// Binds the ring to the calling (home) thread. On an IoThread (<see cref="RegisterRingFd"/>) it also registers the ring
    /// fd with that thread (IORING_REGISTER_RING_FDS, 5.18): every io_uring_enter then names the ring by its registered
    /// index and skips the fd-table lookup (fdget/fput, which in a multi-threaded process is an atomic reference count
    /// pair per call). Where the kernel refuses (older kernels, or the task's 16 slots taken) the plain fd is used. The
    /// registration is undone by the ring's Dispose on the home thread, which an IoThread always does before it exits.
    /// Other threads do not register: one that binds many contexts (a test runner's) would run out of its 16 slots, and
    /// a context disposed from another thread would leave its ring alive, held by the registration, until the thread
    /// exits.
    /// </summary>
    private void Bind()
    {
        _ring.Enable();
        if (RegisterRingFd)
        {
            _ = _ring.RegisterRingFd();
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

    /// <summary>Submits and waits. A refusal (EAGAIN/EBUSY) leaves the entries queued: relieve the pressure, end the wait.</summary>
    private void Enter(uint minComplete, long timeoutNs)
    {
        if (_ring.SubmitAndWait(minComplete, timeoutNs) < 0)
        {
            RelieveBackPressure();
        }
    }

    private void SubmitOrRelieve()
    {
        if (_ring.SqReady != 0 && _ring.Submit() < 0)
        {
            RelieveBackPressure();
        }
    }

    /// <summary>
    /// The kernel refused a submission (EAGAIN/EBUSY: "consume completions first"). Nothing was consumed: the entries stay
    /// in the SQ. Run the completion work the kernel holds (task work, overflow) without submitting, and reap it.
    /// </summary>
    private void RelieveBackPressure()
    {
        _submitRefused = true;
        _ = _ring.GetEvents();
        Reap();
    }

    /// <summary>
    /// Makes sure the SQ has a free entry, submitting when it is full (and relieving back-pressure once if the kernel
    /// refuses). False if it is still full: the caller leaves its work queued. Throws <see cref="AioException"/> for a
    /// submission failure other than EAGAIN/EBUSY, before the caller has taken anything.
    /// </summary>
    private bool TryMakeRoom()
    {
        if (_ring.SqSpaceLeft != 0)
        {
            return true;
        }

        _refusedErrno = Errno.EBUSY;
        int rc = _ring.Submit();
        if (rc < 0)
        {
            _refusedErrno = -rc;
            RelieveBackPressure();
            rc = _ring.Submit();
            if (rc < 0)
            {
                _refusedErrno = -rc;
            }
        }

        return _ring.SqSpaceLeft != 0;
    }

    /// <summary>How many completions one pass of <see cref="Reap"/> copies out before it moves the CQ head.</summary>
    private const int ReapBatch = 32;

    private void Reap()
    {
        // Copied out in batches, each consumed with one head store, then processed: processing runs no user code (it
        // queues completions and ready events), so nothing can enter the ring between the copy and the processing.
        Span<Cqe> batch = stackalloc Cqe[ReapBatch];
        int n;
        while ((n = _ring.TakeCqes(batch)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                Process(in batch[i]);
            }
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
}
