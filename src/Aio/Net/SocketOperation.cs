using System.Threading.Tasks.Sources;

namespace Aio.Net;

/// <summary>
/// One kind of operation of one socket (its receive, its send, its accept): a reusable
/// <see cref="IValueTaskSource{TResult}"/> whose state lives on the socket's loop. At most one is pending at a time,
/// so the object is the socket's own, never pooled across sockets: steady-state operations allocate nothing.
/// </summary>
/// <remarks>
/// <para><b>States.</b> <c>Idle → Pending</c> (<see cref="Begin"/>, any thread, by compare-and-swap: a second
/// concurrent operation is refused) <c>→ Completing → Completed</c> (<see cref="Complete"/> or <see cref="Fail"/>,
/// on the loop; compare-and-swap, so exactly one finisher publishes)
/// <c>→ Idle</c> (<see cref="GetResult(short)"/>, by the awaiter). Nothing else moves it.</para>
/// <para><b>Hand-over.</b> Work is done on the loop. A caller on another thread schedules the operation's own bottom
/// half (created once, so the hop allocates nothing); on the home thread the work runs at once.</para>
/// <para><b>Cancellation.</b> The token is registered before the hand-over. Its callback only nudges the loop
/// (another bottom half); the loop then checks whether the <i>current</i> use's token is cancelled. A callback that
/// fires late, after the use it was registered for has finished, therefore cancels nothing else: a later use with
/// another token is not cancelled, and one with the same (cancelled) token rightly is. The registration is undone
/// exactly once, at completion, before the result is published.</para>
/// </remarks>
internal abstract class SocketOperation : IValueTaskSource<int>, IValueTaskSource
{
    private const int Idle = 0;
    private const int Pending = 1;
    private const int Completed = 2;
    private const int Completing = 3;

    private readonly string _name;
    private BottomHalf? _start;
    private BottomHalf? _cancel;
    private ManualResetValueTaskSourceCore<int> _core;
    private CancellationTokenRegistration _registration;
    private int _state;
    private int _published;
    private int _retired;

    protected SocketOperation(AioContext context, string name)
    {
        Context = context;
        _name = name;
    }

    /// <summary>The loop the socket belongs to.</summary>
    public AioContext Context { get; }

    /// <summary>
    /// True while a use is in progress and handed over: between <see cref="Dispatch"/> (which publishes the use's fields,
    /// such as its buffer) and its completion. A use that <see cref="Begin"/> claimed but whose fields are still being
    /// set is not pending yet, so the loop cannot serve it with the previous use's (empty) buffer.
    /// </summary>
    public bool IsPending => Volatile.Read(ref _state) == Pending && Volatile.Read(ref _published) != 0;

    /// <summary>True while a kernel request of the current use points at the caller's memory (loop thread).</summary>
    protected virtual bool KernelHoldsCallerMemory => false;

    /// <summary>The current use's token.</summary>
    protected CancellationToken Token { get; private set; }

    /// <summary>The version of the current use (what the returned ValueTask carries).</summary>
    protected short Version => _core.Version;

    /// <summary>
    /// Claims the operation for a new use and registers <paramref name="ct"/>. Any thread. Throws when one is
    /// already pending (the contract allows one receive and one send at a time).
    /// </summary>
    protected void Begin(CancellationToken ct, string what)
    {
        if (Interlocked.CompareExchange(ref _state, Pending, Idle) != Idle)
        {
            throw new InvalidOperationException($"Another {what} is already pending on this socket; at most one may be.");
        }

        Token = ct;
        if (ct.CanBeCanceled)
        {
            _registration = ct.UnsafeRegister(static (s, token) => ((SocketOperation)s!).OnTokenCancelled(token), this);
        }
    }

    /// <summary>Runs <see cref="StartOnLoop"/> now on the home thread, or through the bottom half elsewhere.</summary>
    protected void Dispatch()
    {
        if (Context.IsOnHomeThread)
        {
            if (Context.IsDisposed)
            {
                // Still the home thread after its context was disposed: there is no loop to start on (off the thread,
                // the bottom half's refusal says the same).
                Fail(new ObjectDisposedException(nameof(AioContext), "The socket's AioContext was disposed."));
                return;
            }

            // The loop's own thread: the close cannot run in between, so a plain publish is enough.
            Volatile.Write(ref _published, 1);
            RunStart();
            return;
        }

        // Release: the fields the caller set for this use are visible to the loop before the use is. A full fence, for
        // the look at _retired below (pairs with the one in DisposeHandOver).
        Interlocked.Exchange(ref _published, 1);
        try
        {
            StartBottomHalf.Schedule();
        }
        catch (ObjectDisposedException ex)
        {
            Fail(ex);
            return;
        }

        if (Volatile.Read(ref _retired) != 0)
        {
            // The socket finished closing while this use was being handed over: the run just scheduled may have been
            // dropped with the bottom half.
            Fail(Retired());
        }
    }

    /// <summary>
    /// Loop thread: the ring refused a submission for now; <see cref="StartOnLoop"/> runs again in the next iteration
    /// and picks the work up where it stands.
    /// </summary>
    protected void RetryLater()
    {
        try
        {
            StartBottomHalf.Schedule();
        }
        catch (ObjectDisposedException ex)
        {
            Fail(ex);
        }
    }

    /// <summary>Loop thread: begin (or continue) the work of the pending use; may run again for the same use.</summary>
    protected abstract void StartOnLoop();

    /// <summary>Loop thread: the current use's token is cancelled; end it (or ask the kernel to) as the backend can.</summary>
    protected abstract void CancelPending();

    /// <summary>Loop thread: publishes the result of the pending use.</summary>
    protected void Complete(int result)
    {
        if (!Finish())
        {
            return;
        }

        ContinueOffTheTeardown();
        _core.SetResult(result);
    }

    /// <summary>Loop thread (or the caller's, before anything was handed over): publishes an error.</summary>
    protected void Fail(Exception error)
    {
        if (!Finish())
        {
            return;
        }

        ContinueOffTheTeardown();
        _core.SetException(error);
    }

    /// <summary>
    /// Once the context is disposed, an awaiter that was on its loop (continued inline there until now) continues on the
    /// pool instead: the ending comes from the teardown, and the awaiter's code must not run in the middle of it, on
    /// whichever thread disposed the context. As ring operations do.
    /// </summary>
    private void ContinueOffTheTeardown()
    {
        if (Context.IsDisposed)
        {
            _core.RunContinuationsAsynchronously = true;
        }
    }

    /// <summary>Loop thread: ends the pending use with <see cref="OperationCanceledException"/> for its token.</summary>
    protected void FailCancelled() => Fail(new OperationCanceledException(Token));

    /// <summary>
    /// Loop thread, when the socket has closed: drops the bottom halves, and fails a use that a caller on another thread
    /// published meanwhile. Such a use passed the caller's disposed check just before the close; the run it scheduled
    /// is dropped with the bottom half, so without this it would stay pending for good. The caller looks at
    /// <c>_retired</c> after it published (see <see cref="Dispatch"/>): with a full fence on both sides, at least one
    /// of the two sees the other, and <see cref="Finish"/> lets only one of them fail the use.
    /// </summary>
    public void DisposeHandOver()
    {
        Interlocked.Exchange(ref _retired, 1);
        Volatile.Read(ref _start)?.Dispose();
        Volatile.Read(ref _cancel)?.Dispose();
        if (IsPending)
        {
            Fail(Retired());
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        var ctx = Context;
        bool onLoop = ctx.IsOnHomeThread && SynchronizationContext.Current == ctx.SynchronizationContext;
        if (onLoop)
        {
            // Completions are delivered on this loop: run the continuation inline there.
            flags &= ~ValueTaskSourceOnCompletedFlags.UseSchedulingContext;
        }

        // Off the loop, the awaiter's code never runs inline on the loop thread.
        _core.RunContinuationsAsynchronously = !onLoop;
        _core.OnCompleted(continuation, state, token, flags);
    }

    public int GetResult(short token)
    {
        if (Volatile.Read(ref _state) != Completed || token != _core.Version || _core.GetStatus(token) == ValueTaskSourceStatus.Pending)
        {
            // Misuse (an unfinished or already consumed ValueTask): refuse without releasing anything.
            throw new InvalidOperationException("The socket operation has not completed, or its result was already consumed.");
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Token = default;

            // Pairs with the compare-and-swap in Begin: the reset above is visible before the next use can start.
            Volatile.Write(ref _state, Idle);
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    private bool Finish()
    {
        // Only one finisher wins (the loop, or a caller whose hand-over failed).
        if (Interlocked.CompareExchange(ref _state, Completing, Pending) != Pending)
        {
            return false;
        }

        // Undo the registration before publishing: afterwards the token cannot reach this use.
        _registration.Unregister();
        _registration = default;
        Volatile.Write(ref _published, 0);
        Volatile.Write(ref _state, Completed);
        return true;
    }

    private ObjectDisposedException Retired() => new(null, $"The socket was closed while the {_name} was starting.");

    /// <summary>
    /// The context was disposed with this operation's start still queued, so the loop will never run it (the disposing
    /// thread, or one whose schedule lost the race with the dispose). A use handed over from another thread would
    /// otherwise stay pending until the socket is disposed. Only a published use is failed, as <see cref="RunStart"/>
    /// would start only that one: the queued run may belong to a use that has ended, and the next one may still be
    /// being set up by its caller. That caller's publish and this read are ordered by full fences on both sides (the
    /// abandon deletes the bottom half with an interlocked or; the caller publishes with an exchange, then schedules),
    /// so either this sees the published use, or the caller's schedule sees the deletion and fails the use itself.
    /// </summary>
    internal void FailAbandoned()
    {
        // Not while the kernel holds the caller's memory for this use (a RECV or SEND armed on the loop thread after an
        // earlier use's start was queued): the caller could reuse the buffer under the kernel. The context's teardown
        // cancels that request and ends the use once the kernel let go of it.
        if (IsPending && !KernelHoldsCallerMemory)
        {
            Fail(new ObjectDisposedException(nameof(AioContext), $"The context was disposed before its loop started the {_name}."));
        }
    }

    private void OnTokenCancelled(CancellationToken token)
    {
        // Any thread. Only a nudge: the loop decides with the current use's own token (and looks again when it starts the
        // use, for a token cancelled before the use was published).
        if (token != Token || Volatile.Read(ref _state) != Pending)
        {
            return;
        }

        try
        {
            CancelBottomHalf.Schedule();
        }
        catch (ObjectDisposedException)
        {
            // The socket is closing; its close ends the use.
        }
    }

    /// <summary>
    /// The bottom halves are made on first use: most operations of a busy connection start and cancel nothing from another
    /// thread, and a connection that lives for one request should not pay for them (CreateBottomHalf throws
    /// ObjectDisposedException once the context is gone, as Schedule would).
    /// </summary>
    private BottomHalf StartBottomHalf => Volatile.Read(ref _start) ?? Create(ref _start, RunStart, _name, FailAbandoned);

    private BottomHalf CancelBottomHalf => Volatile.Read(ref _cancel) ?? Create(ref _cancel, CancelOnLoop, _name + "-cancel", null);

    private BottomHalf Create(ref BottomHalf? slot, Action callback, string name, Action? onAbandoned)
    {
        var made = onAbandoned is null ? Context.CreateBottomHalf(callback, name) : Context.CreateBottomHalf(callback, name, onAbandoned);
        var raced = Interlocked.CompareExchange(ref slot, made, null);
        if (raced is not null)
        {
            made.Dispose();
            return raced;
        }

        return made;
    }

    /// <summary>
    /// Loop thread: starts (or continues) the published use. A token cancelled before the use was published found nothing
    /// to cancel then, so it is looked at here too.
    /// </summary>
    private void RunStart()
    {
        if (!IsPending)
        {
            return;
        }

        StartOnLoop();
        if (IsPending && Token.IsCancellationRequested)
        {
            CancelPending();
        }
    }

    private void CancelOnLoop()
    {
        if (IsPending && Token.IsCancellationRequested)
        {
            CancelPending();
        }
    }
}
