using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Aio.Interop;

namespace Aio.Async;

/// <summary>
/// A pooled, awaitable ring request: the <see cref="CqeHandler"/> and the <see cref="IValueTaskSource{TResult}"/> in
/// one object, so an operation awaited on the loop allocates nothing in steady state.
/// </summary>
/// <remarks>
/// <para><b>Lifecycle.</b> One use of the object goes Idle → InFlight → Completed → Idle (see <see cref="OperationState"/>
/// for the legal transitions and who makes them). Each use has its own <see cref="Version"/>: the token of the
/// ValueTask handed out, and the key that keeps a late cancel or a misused GetResult away from the next use.</para>
/// <para><b>Where continuations run.</b> Awaited on the loop (the context's SynchronizationContext is current), the
/// continuation runs inline on the loop when the completion is delivered (QEMU aio_co_wake): the context is not
/// captured, because delivery already happens on it. Awaited anywhere else, the continuation goes to the captured
/// context, or the thread pool; it never runs user code from another thread on the loop.</para>
/// <para><b>Memory.</b> The buffer stays pinned until the kernel's completion has arrived, including after a
/// cancellation; only then is the operation reset and returned to its pool. The caller's file handle is referenced
/// for as long as the request may still be prepared from it.</para>
/// </remarks>
internal abstract class RingOperation : CqeHandler, IValueTaskSource<int>, IValueTaskSource
{
    private static readonly Action<object?> s_requestCancel = static s => ((RingOperation)s!).RequestCancel();

    private ManualResetValueTaskSourceCore<int> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private MemoryHandle _pin;

    // What _pin pins: kept for good if the kernel may still use it after an abandon (KernelHeldMemory).
    private ReadOnlyMemory<byte> _pinnedMemory;
    private SafeHandle? _file;
    private AioContext? _context;
    private ulong _userData;
    private bool _cancelRequested;
    private bool _continuationOnLoop;
    private object? _continuationState;
    private int _state;   // OperationState, as int for Interlocked

    /// <summary>The operation's name in error messages (<c>"read"</c>, <c>"write"</c>, ...).</summary>
    protected string Name { get; set; } = "io";

    /// <summary>Whether a negative result is an error (false for SubmitAsync and fallocate, whose callers read it raw).</summary>
    protected bool ThrowOnNegative { get; set; } = true;

    protected AioContext Context => _context!;

    protected short Version => _core.Version;

    /// <summary>The fd of the file handle the operation was started with.</summary>
    protected int FileDescriptor => (int)_file!.DangerousGetHandle();

    /// <summary>This use's state (tests and the loop-blocking guard).</summary>
    internal OperationState State => (OperationState)Volatile.Read(ref _state);

    /// <summary>What this use's completion resumes (the state the awaiter passed to OnCompleted), for the loop-blocking guard.</summary>
    internal object? ContinuationState => Volatile.Read(ref _continuationState);

    /// <summary>
    /// This use was started on the home thread or is awaited on the loop: a blocking wait of the loop thread on it could
    /// never end (<see cref="LoopBlockingGuard"/>). Home thread only.
    /// </summary>
    internal bool IsLoopBound { get; private set; }

    /// <summary>
    /// Starts the request (any thread): references the file, registers on the token, hands the request to the loop.
    /// If the hand-over throws, everything is released again and the exception propagates; the object is then
    /// dropped rather than pooled.
    /// </summary>
    protected void Start(AioContext context, SafeHandle? file, MemoryHandle pin, ReadOnlyMemory<byte> pinned, CancellationToken ct)
    {
        _context = context;
        _userData = 0;
        _cancelRequested = false;
        _continuationOnLoop = false;
        _continuationState = null;
        _token = ct;
        if (file is not null)
        {
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
            }
            catch
            {
                // Closed meanwhile (ObjectDisposedException): nothing else was taken yet.
                pin.Dispose();
                _context = null;
                throw;
            }

            _file = file;
        }

        _pin = pin;
        _pinnedMemory = pinned;

        // Idle -> InFlight before the registration: a token cancelled meanwhile runs the callback right here, and it
        // must see the request as live (the cancel then waits on the loop until the request is submitted).
        Volatile.Write(ref _state, (int)OperationState.InFlight);
        if (ct.CanBeCanceled)
        {
            // Before the hand-over: once the loop has the request, it may complete it (and dispose the registration)
            // before this thread runs another instruction.
            _registration = ct.UnsafeRegister(s_requestCancel, this);
        }

        IsLoopBound = context.IsOnHomeThread;
        try
        {
            SubmitSelf(context);
        }
        catch
        {
            // InFlight -> Idle: nothing reached the loop. Dispose waits for a cancel callback already running, and the
            // object is not pooled, so nothing scheduled for this use can reach another.
            _registration.Dispose();
            _registration = default;
            IsLoopBound = false;
            Release();
            Volatile.Write(ref _state, (int)OperationState.Idle);
            throw;
        }
    }

    /// <summary>Calls <c>context.AddSqe</c> with this operation as state and handler.</summary>
    protected abstract void SubmitSelf(AioContext context);

    /// <summary>Returns the operation to its pool once the awaiter has the result.</summary>
    protected abstract void ReturnToPool();

    /// <summary>
    /// Home thread, on each completion: return true after resubmitting to keep the operation going, or adjust
    /// <paramref name="result"/> (the value or <c>-errno</c> the awaiter will see) and return false to finish.
    /// </summary>
    protected virtual bool Continue(ref int result) => false;

    /// <summary>Adds this operation's SQE again (home thread).</summary>
    protected void Resubmit() => SubmitSelf(Context);

    internal override void OnSubmitted(ulong userData)
    {
        _userData = userData;
        if (_cancelRequested)
        {
            SubmitCancel();
        }
    }

    protected internal override void OnCompletion(in Cqe cqe)
    {
        if (cqe.HasMore || State != OperationState.InFlight)
        {
            // A completion for a use that has already ended (abandoned meanwhile) has nobody to tell.
            return;
        }

        int res = cqe.Result;
        bool cancelled = res == -Errno.ECANCELED && _cancelRequested;
        Exception? refused = null;
        try
        {
            if (!cancelled && Continue(ref res))
            {
                // Resubmitted (a short transfer or EAGAIN): still in flight, buffer still pinned.
                return;
            }
        }
        catch (AioException ex)
        {
            // The resubmission was refused (the ring took nothing: back-pressure). Nothing of it is in flight, so the
            // operation ends here with that error instead of being stranded.
            refused = ex;
        }

        Exception? error = refused ?? (cancelled ? new OperationCanceledException(_token)
            : res < 0 && ThrowOnNegative ? new AioException(-res, Name)
            : null);
        if (TryFinish(releasePin: true))
        {
            Publish(res, error);
        }
    }

    internal override void OnAbandoned(bool kernelReleased)
    {
        // Without kernelReleased the kernel may still write into the buffer while it tears the ring down: the pin is
        // kept for good. The file reference is not: the kernel holds its own reference to the file of a request it
        // has, so the caller's SafeHandle may close.
        if (TryFinish(releasePin: kernelReleased))
        {
            // A loop-bound awaiter would run inline here: inside the teardown, on whatever thread disposes (not always
            // the loop's). Its loop is gone; the pool runs it, as it runs an off-loop awaiter's.
            _core.RunContinuationsAsynchronously = true;
            Publish(0, new ObjectDisposedException(nameof(AioContext), "The AioContext was disposed with the operation in flight."));
        }
    }

    internal override bool OnPrepareFailed(Exception exception)
    {
        // The entry was turned into a NOP before the kernel saw it: everything can be released.
        if (!TryFinish(releasePin: true))
        {
            return false;
        }

        if (Volatile.Read(ref _continuationOnLoop))
        {
            // We are inside the monitor's SQ filling: the awaiter's code must not run inline here (it could add SQEs
            // or poll). Loop-bound continuations run from a bottom half instead; others go to the pool anyway.
            // If the context is disposed before it ran, the abandon runs it instead, continuing on the pool (the loop is
            // gone); a context disposed already takes nothing, and the pool continues the awaiter now.
            var ctx = Context;
            if (!ctx.TryScheduleOneShot(() => _core.SetException(exception), () => ContinueOnPoolWith(exception)))
            {
                ContinueOnPoolWith(exception);
            }
        }
        else
        {
            _core.SetException(exception);
        }

        // The caller hears of it through its awaiter: the loop need not rethrow it.
        return true;
    }

    private void ContinueOnPoolWith(Exception exception)
    {
        _core.RunContinuationsAsynchronously = true;
        _core.SetException(exception);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        var ctx = _context;
        bool onLoop = ctx is not null && SynchronizationContext.Current == ctx.SynchronizationContext && ctx.IsOnHomeThread;
        if (onLoop)
        {
            // Completion is delivered on this loop: run the continuation inline there (no Post, no allocation).
            flags &= ~ValueTaskSourceOnCompletedFlags.UseSchedulingContext;
            _continuationOnLoop = true;
            IsLoopBound = true;
        }

        Volatile.Write(ref _continuationState, state);

        // Off the loop, never run the awaiter's code inline on the loop thread.
        _core.RunContinuationsAsynchronously = !onLoop;
        _core.OnCompleted(continuation, state, token, flags);
    }

    public int GetResult(short token)
    {
        // Misuse is refused before anything is touched (as ManualResetValueTaskSourceCore users guard it): a token of
        // another use makes GetStatus throw; an unfinished use is still the kernel's.
        if (_core.GetStatus(token) == ValueTaskSourceStatus.Pending)
        {
            throw new InvalidOperationException(
                $"GetResult was called on a {Name} operation that has not completed; await the ValueTask (or wait until IsCompleted) first.");
        }

        // Completed -> Idle exactly once, even if two threads race here with the same token.
        if (Interlocked.CompareExchange(ref _state, (int)OperationState.Idle, (int)OperationState.Completed) != (int)OperationState.Completed)
        {
            throw new InvalidOperationException($"The result of this {Name} operation was already consumed.");
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _context = null;
            _token = default;
            _continuationState = null;
            _continuationOnLoop = false;
            IsLoopBound = false;
            ReturnToPool();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    /// <summary>
    /// InFlight -> Completed (compare-exchange: abandonment can run on a disposing thread). Disposes the token
    /// registration, waiting for a callback already running, so no callback outlives this use; then releases.
    /// </summary>
    private bool TryFinish(bool releasePin)
    {
        if (Interlocked.CompareExchange(ref _state, (int)OperationState.Completed, (int)OperationState.InFlight) != (int)OperationState.InFlight)
        {
            return false;
        }

        _registration.Dispose();
        _registration = default;
        if (releasePin)
        {
            Release();
        }
        else
        {
            KernelHeldMemory.Keep(_pinnedMemory);
            _pin = default;
            _pinnedMemory = default;
            ReleaseFile();
        }

        return true;
    }

    private void Publish(int result, Exception? error)
    {
        if (error is null)
        {
            _core.SetResult(result);
        }
        else
        {
            _core.SetException(error);
        }
    }

    private void RequestCancel()
    {
        // Any thread. This runs only while this use's registration is live (TryFinish disposes it, waiting for a
        // running callback, before the version can change), so the version read here is this use's.
        if (State != OperationState.InFlight)
        {
            return;
        }

        var ctx = Context;
        short version = _core.Version;
        try
        {
            // The cancel SQE is added from the loop, where the request's user_data is known.
            ctx.ScheduleOneShot(() => CancelOnLoop(version));
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void CancelOnLoop(short version)
    {
        // The bottom half may run after this use ended and the object was rented again: the version tells.
        if (State != OperationState.InFlight || _core.Version != version)
        {
            return;
        }

        _cancelRequested = true;
        if (_userData != 0)
        {
            SubmitCancel();
        }
    }

    private void SubmitCancel()
    {
        ulong target = _userData;
        try
        {
            Context.AddSqe(static (ref Sqe sqe, ulong t) => sqe.PrepCancel(t), target, CancelCompletion.Instance);
        }
        catch (AioException)
        {
            // The ring refused the entry for now (a full submission queue the kernel would not take). Thrown on, this
            // escaped Poll (or the monitor's fill, from OnSubmitted) and the token never cancelled: try again in the
            // next iteration instead, as KernelRequest does for a socket's cancel.
            short version = _core.Version;
            try
            {
                Context.ScheduleOneShot(() => CancelOnLoop(version));
            }
            catch (ObjectDisposedException)
            {
                // The context is going away: its teardown ends every request.
            }
        }
    }

    private void Release()
    {
        _pin.Dispose();
        _pin = default;
        _pinnedMemory = default;
        ReleaseFile();
    }

    private void ReleaseFile()
    {
        if (_file is { } f)
        {
            _file = null;
            f.DangerousRelease();
        }
    }

    /// <summary>The cancel request's own completion: nothing to do (the target's completion tells the story).</summary>
    private sealed class CancelCompletion : CqeHandler
    {
        public static readonly CancelCompletion Instance = new();

        protected internal override void OnCompletion(in Cqe cqe)
        {
        }
    }
}
