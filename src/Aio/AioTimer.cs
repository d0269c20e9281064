namespace Aio;

/// <summary>
/// A one-shot timer on a context's loop (QEMU <c>QEMUTimer</c>). It fires once, on the loop, no earlier than its
/// deadline; the loop's sleep is bounded by the earliest pending timer. All members work from any thread; arming
/// a timer earlier than the loop's current sleep wakes the loop.
/// </summary>
/// <remarks>For a timer that ticks periodically and is awaited like <see cref="PeriodicTimer"/>, see
/// <see cref="AioPeriodicTimer"/> (<see cref="AioContext.CreatePeriodicTimer"/>).</remarks>
public sealed class AioTimer : IDisposable
{
    private readonly AioContext _context;
    private readonly TimerList _list;
    private readonly Action _callback;
    private long _expireNs = -1;
    private volatile bool _disposed;

    internal AioTimer(AioContext context, TimerList list, Action callback)
    {
        _context = context;
        _list = list;
        _callback = callback;
    }

    /// <summary>True while armed and not yet fired.</summary>
    public bool IsPending => Volatile.Read(ref _expireNs) >= 0;

    /// <summary>The deadline in nanoseconds on the timer's clock; -1 when not pending.</summary>
    public long ExpireNs => Volatile.Read(ref _expireNs);

    /// <summary>The clock the deadline is measured on.</summary>
    public AioClock Clock => _list.Clock;

    /// <summary>Written under the list's lock only.</summary>
    internal long ExpireNsUnsafe
    {
        get => _expireNs;
        set => Volatile.Write(ref _expireNs, value);
    }

    /// <summary>Arms the timer for the absolute time <paramref name="expireNs"/> on its clock (see <see cref="AioContext.Now(AioClock)"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expireNs"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The timer or its context was disposed.</exception>
    public void ArmAt(long expireNs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expireNs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        _context.ThrowIfDisposed();
        if (_list.Arm(this, expireNs))
        {
            // The earliest deadline moved: a loop asleep with the old timeout must recompute it.
            _context.NotifyWork();
        }
    }

    /// <summary>
    /// Arms the timer <paramref name="delay"/> from now. A deadline beyond the clock's range (up to
    /// <see cref="TimeSpan.MaxValue"/>) saturates at <see cref="long.MaxValue"/>: the timer stays pending and never fires.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The timer or its context was disposed.</exception>
    public void ArmAfter(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);

        // Saturating arithmetic: TimeSpan.MaxValue holds 100 times more nanoseconds than a long (ticks * 100 wrapped to
        // -100, a deadline in the past that fired at once), and now + delay can overflow too.
        long delayNs = delay.Ticks > long.MaxValue / 100 ? long.MaxValue : delay.Ticks * 100;
        long now = _context.Now(_list.Clock);
        ArmAt(now > 0 && delayNs > long.MaxValue - now ? long.MaxValue : now + delayNs);
    }

    /// <summary>Disarms the timer; a pending expiry never fires.</summary>
    public void Cancel() => _list.Remove(this);

    /// <summary>Cancels and deletes the timer. Safe to call twice.</summary>
    public void Dispose()
    {
        _disposed = true;
        _list.Remove(this);
    }

    internal bool IsDisposed => _disposed;

    internal void Invoke() => _callback();
}
