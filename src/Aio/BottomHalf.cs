namespace Aio;

/// <summary>
/// A deferred callback that runs once on its context's loop each time it is scheduled (QEMU <c>QEMUBH</c>).
/// Scheduling is lock-free from any thread and idempotent while the run is pending.
/// </summary>
/// <remarks>
/// Scheduling a bottom half that is already pending does nothing more: it runs once. <see cref="Cancel"/> drops a
/// pending run and leaves the bottom half usable; <see cref="Dispose"/> ends it for good, also from its own callback.
/// </remarks>
public sealed class BottomHalf : IDisposable
{
    // Flags (all changed atomically): Pending means "linked into the context's list" and guards the single Next link;
    // Scheduled means "should run when dequeued" (cleared by Cancel); Deleted means "never run again"; OneShot marks the
    // throwaway ones of AioContext.ScheduleOneShot. A bottom half may carry an abandon callback (one-shots of
    // TryScheduleOneShot, a socket operation's start): it runs instead of the callback when the context is disposed
    // with the run still queued, so that whoever waits for it hears of it.
    internal const int FlagPending = 1;
    internal const int FlagScheduled = 2;
    internal const int FlagDeleted = 4;
    internal const int FlagOneShot = 8;

    private readonly AioContext _context;
    private readonly Action? _callback;
    private readonly Action? _onAbandoned;
    private readonly Async.LoopWorkItem? _work;
    private int _flags;

    internal BottomHalf(AioContext context, Action callback, string? name, int flags, Action? onAbandoned = null)
    {
        _context = context;
        _callback = callback;
        _onAbandoned = onAbandoned;
        Name = name;
        _flags = flags;
    }

    /// <summary>A one-shot whose payload is <paramref name="work"/> (run, or abandoned, through it: no delegates).</summary>
    internal BottomHalf(AioContext context, Async.LoopWorkItem work)
    {
        _context = context;
        _work = work;
        _flags = FlagOneShot;
    }

    /// <summary>The name given at creation, for diagnostics.</summary>
    public string? Name { get; }

    /// <summary>True while a run is scheduled and not cancelled or deleted.</summary>
    public bool IsScheduled => (Volatile.Read(ref _flags) & (FlagScheduled | FlagDeleted)) == FlagScheduled;

    /// <summary>Link in the context's lock-free list or in a batch; owned by whoever set <c>Pending</c>.</summary>
    internal BottomHalf? Next { get; set; }

    internal AioContext Context => _context;

    /// <summary>
    /// Runs the callback once in the next iteration of the context's loop, after the bottom halves scheduled before
    /// it. Any thread; wakes a sleeping loop. Scheduling again before it ran changes nothing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The bottom half or its context was disposed.</exception>
    public void Schedule()
    {
        if ((Volatile.Read(ref _flags) & FlagDeleted) != 0)
        {
            throw new ObjectDisposedException(nameof(BottomHalf), $"Bottom half '{Name}' was disposed.");
        }

        _context.EnqueueBottomHalf(this, FlagScheduled);
    }

    /// <summary>Drops a pending run. The bottom half stays usable and may be scheduled again. Any thread.</summary>
    public void Cancel() => Interlocked.And(ref _flags, ~FlagScheduled);

    /// <summary>Deletes the bottom half: a pending run never happens. Allowed from its own callback and from any thread.</summary>
    public void Dispose() => Interlocked.Or(ref _flags, FlagDeleted);

    /// <summary>Sets <c>Pending</c> plus <paramref name="flags"/>; returns the flags as they were.</summary>
    internal int SetFlags(int flags) => Interlocked.Or(ref _flags, flags);

    /// <summary>Takes the bottom half off a list: clears <c>Pending</c> and <c>Scheduled</c>, returns the old flags.</summary>
    internal int Dequeue() => Interlocked.And(ref _flags, ~(FlagPending | FlagScheduled));

    internal void Invoke()
    {
        if (_work is not null)
        {
            _work.Run();
        }
        else
        {
            _callback!();
        }
    }

    /// <summary>
    /// The context was disposed with this bottom half still queued: deletes it, and if it was going to run, runs the
    /// abandon callback instead (the disposing thread; once, since only the taker of the queue gets here).
    /// </summary>
    internal void Abandon()
    {
        int flags = Dequeue();
        Dispose();
        if ((flags & (FlagScheduled | FlagDeleted)) == FlagScheduled)
        {
            _onAbandoned?.Invoke();
            _work?.Abandon();
        }
    }
}
