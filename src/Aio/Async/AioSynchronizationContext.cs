namespace Aio.Async;

/// <summary>
/// Posts to the loop as one-shot bottom halves, so <c>await</c> in loop code comes back to the loop. <see cref="Send"/>
/// runs inline on the home thread and blocks other threads until the loop has run the callback.
/// </summary>
/// <remarks>
/// Wait notification is on (<see cref="SynchronizationContext.SetWaitNotificationRequired"/>): on .NET 10 every
/// blocking wait of a thread whose current context this is (Task.Wait/Result, Monitor.Wait, ManualResetEventSlim,
/// SemaphoreSlim, lock contention, Thread.Join) comes through <see cref="Wait"/>, which refuses sync-over-async on
/// the loop (see <see cref="LoopBlockingGuard"/>).
/// </remarks>
internal sealed class AioSynchronizationContext : SynchronizationContext
{
    private readonly AioContext _context;

    public AioSynchronizationContext(AioContext context)
    {
        _context = context;
        Guard = new LoopBlockingGuard(context);
        SetWaitNotificationRequired();
    }

    public AioContext Context => _context;

    /// <summary>The loop's own work that a blocking wait of the home thread could never see completed.</summary>
    internal LoopBlockingGuard Guard { get; }

    /// <summary>
    /// Every blocking wait of a thread while this context is current. An unbounded wait of the home thread for a task
    /// that only this loop can complete would hang the loop for good: it throws instead.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop thread is blocking on its own loop's work.</exception>
    public override int Wait(IntPtr[] waitHandles, bool waitAll, int millisecondsTimeout)
    {
        if (millisecondsTimeout == Timeout.Infinite && _context.IsOnHomeThread && Guard.IsWaitOnOwnWork())
        {
            throw new InvalidOperationException(
                $"AioContext '{_context.Name}': the loop thread is blocking on its own loop's work (sync-over-async, such as " +
                "ReadAsync(...).AsTask().Result in a loop callback). The completion it waits for can only be delivered by the " +
                "loop it blocks; await the operation instead.");
        }

        return base.Wait(waitHandles, waitAll, millisecondsTimeout);
    }

    /// <summary>Never throws for a disposed context: the callback then runs on the thread pool (see <see cref="PostedCallback"/>).</summary>
    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        var posted = new PostedCallback(d, state);
        if (!_context.TryScheduleOneShot(posted.Run, posted.RunElsewhere))
        {
            posted.RunElsewhere();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> if the context is disposed before the loop ran the callback.</summary>
    public override void Send(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (_context.IsOnHomeThread)
        {
            d(state);
            return;
        }

        using var request = new SendRequest(d, state, _context.Name);
        if (!_context.TryScheduleOneShot(request.Run, request.Abandon))
        {
            _context.ThrowIfDisposed();
        }

        request.Wait();
    }

    public override SynchronizationContext CreateCopy() => this;
}
