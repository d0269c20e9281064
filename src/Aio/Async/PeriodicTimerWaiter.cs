using System.Threading.Tasks.Sources;

namespace Aio.Async;

/// <summary>
/// The one reusable wait of an <see cref="AioPeriodicTimer"/> (no allocation per tick). <c>Active</c> runs from
/// WaitForNextTickAsync to GetResult; <c>Pending</c> from WaitForNextTickAsync until the tick, the token or the stop
/// takes it (<see cref="TryTake()"/>, under the timer's lock, so exactly one of them completes it).
/// </summary>
internal sealed class PeriodicTimerWaiter : IValueTaskSource<bool>
{
    private readonly AioPeriodicTimer _owner;
    private readonly AioContext _context;
    private readonly Lock _ownerLock;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;
    private bool _pending;
    private bool _continuationOnLoop;

    public PeriodicTimerWaiter(AioPeriodicTimer owner, AioContext context, Lock ownerLock)
    {
        _owner = owner;
        _context = context;
        _ownerLock = ownerLock;
    }

    /// <summary>Under the owner's lock.</summary>
    public bool Active { get; private set; }

    /// <summary>Under the owner's lock: a new wait.</summary>
    public short Begin(CancellationToken cancellationToken, bool continuationOnLoop)
    {
        Active = true;
        _pending = true;
        _token = cancellationToken;
        _continuationOnLoop = continuationOnLoop;
        return _core.Version;
    }

    public void Register(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(
                static (s, token) => ((AioPeriodicTimer)s!).OnCancelled(token), _owner);
        }
    }

    /// <summary>Under the owner's lock: takes the pending wait for completion.</summary>
    public bool TryTake()
    {
        if (!_pending)
        {
            return false;
        }

        _pending = false;
        return true;
    }

    /// <summary>Under the owner's lock: takes the wait only for the token it was made with (not a stale registration's).</summary>
    public bool TryTake(CancellationToken cancellationToken) => _pending && _token == cancellationToken && TryTake();

    /// <summary>
    /// Completes the taken wait, resuming an awaiter on the loop there (inline when the loop runs on this thread now;
    /// the home thread between two iterations, cancelling the token, say, is not inside the loop).
    /// <c>_continuationOnLoop</c> was written under the owner's lock before the wait could be taken, and the taker
    /// took that lock since: it reads the value of this wait.
    /// </summary>
    public void Complete(bool result, Exception? error)
    {
        var context = _context;
        if (_continuationOnLoop && !(AioContext.Current == context && !context.IsDisposed))
        {
            CompleteElsewhere(context, result, error);
            return;
        }

        Publish(result, error);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        var context = _context;
        bool onLoop = SynchronizationContext.Current == context.SynchronizationContext && context.IsOnHomeThread;
        if (onLoop)
        {
            // Ticks are delivered on this loop: run the continuation inline there (no Post, no allocation).
            flags &= ~ValueTaskSourceOnCompletedFlags.UseSchedulingContext;
        }

        _core.RunContinuationsAsynchronously = !onLoop;
        _core.OnCompleted(continuation, state, token, flags);
    }

    public bool GetResult(short token)
    {
        if (_core.GetStatus(token) == ValueTaskSourceStatus.Pending)
        {
            throw new InvalidOperationException("GetResult was called on an AioPeriodicTimer wait that has not completed; await it first.");
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Unregister, not Dispose: a stale callback running now finds another token or no pending wait.
            _registration.Unregister();
            _registration = default;
            lock (_ownerLock)
            {
                _core.Reset();
                Active = false;
            }
        }
    }

    private void Publish(bool result, Exception? error)
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

    /// <summary>
    /// The awaiter expects to resume on the loop, and this is not the loop (a token, Dispose from another thread, the
    /// context's Dispose): hand the completion to the loop, or to the thread pool once the loop is gone. A method of
    /// its own because its lambdas capture the parameters, and C# allocates that closure on entry to the method that
    /// declares them: in Complete, every tick would pay for it.
    /// </summary>
    private void CompleteElsewhere(AioContext context, bool result, Exception? error)
    {
        if (context.IsDisposed || !context.TryScheduleOneShot(() => Publish(result, error), () => QueueToThreadPool(result, error)))
        {
            QueueToThreadPool(result, error);
        }
    }

    private void QueueToThreadPool(bool result, Exception? error)
        => ThreadPool.UnsafeQueueUserWorkItem(static s => s.Waiter.Publish(s.Result, s.Error), (Waiter: this, Result: result, Error: error), preferLocal: false);
}
