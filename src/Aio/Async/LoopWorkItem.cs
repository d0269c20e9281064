namespace Aio.Async;

/// <summary>
/// One-shot work for the loop that someone may cancel before it starts, and that must hear of the context's disposal:
/// <see cref="AioContext.ScheduleOneShot{TState}(Action{TState}, TState, CancellationToken)"/> and
/// <see cref="AioContext.InvokeAsync{TState}(Func{TState, Task}, TState, CancellationToken)"/>. The work item is the
/// bottom half's payload (no delegate per call), and one state word decides, with one compare-exchange each, which of
/// the three endings happens: the loop runs it, the token cancels it, or Dispose abandons it. Exactly one wins.
/// </summary>
internal abstract class LoopWorkItem
{
    private const int Queued = 0;
    private const int Started = 1;
    private const int Cancelled = 2;
    private const int Abandoned = 3;

    private int _state;
    private BottomHalf? _bottomHalf;
    private CancellationTokenRegistration _registration;

    /// <summary>
    /// Queues the work on <paramref name="context"/>'s loop. False, with nothing queued, if the context was disposed.
    /// A token cancelled meanwhile ends the work as cancelled (it is not queued then).
    /// </summary>
    public bool TrySchedule(AioContext context, CancellationToken cancellationToken)
    {
        var bh = new BottomHalf(context, this);
        _bottomHalf = bh;
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the hand-over, so the loop (which unregisters) always finds the registration stored:
            // the enqueue's compare-exchange publishes it.
            _registration = cancellationToken.UnsafeRegister(static (s, token) => ((LoopWorkItem)s!).Cancel(token), this);
            if (Volatile.Read(ref _state) != Queued)
            {
                // Cancelled during the registration: already reported, nothing to queue.
                return true;
            }
        }

        if (!context.TryEnqueueWork(bh))
        {
            _registration.Dispose();
            return false;
        }

        return true;
    }

    /// <summary>On the loop (the bottom half ran): the work starts, unless the token or Dispose won.</summary>
    public void Run()
    {
        if (Interlocked.CompareExchange(ref _state, Started, Queued) != Queued)
        {
            return;
        }

        // Unregister, not Dispose: a cancellation callback running right now lost the race above and returns at once,
        // and waiting for it here would block the loop.
        _registration.Unregister();
        Execute();
    }

    /// <summary>The context was disposed with the work still queued (on the disposing thread).</summary>
    public void Abandon()
    {
        if (Interlocked.CompareExchange(ref _state, Abandoned, Queued) != Queued)
        {
            return;
        }

        _registration.Unregister();
        OnAbandoned();
    }

    /// <summary>The work itself, on the loop.</summary>
    protected abstract void Execute();

    /// <summary>The token was cancelled before the work started (on the cancelling thread).</summary>
    protected abstract void OnCancelled(CancellationToken cancellationToken);

    /// <summary>The context was disposed before the work started (on the disposing thread).</summary>
    protected abstract void OnAbandoned();

    private void Cancel(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) != Queued)
        {
            return;
        }

        // The bottom half stays queued until the loop dequeues it; cancelled, it is no work and no progress there.
        _bottomHalf?.Cancel();
        OnCancelled(cancellationToken);
    }
}
