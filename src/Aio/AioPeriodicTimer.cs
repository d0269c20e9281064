using Aio.Async;

namespace Aio;

/// <summary>
/// A timer that ticks periodically on a context's loop, awaited like <see cref="System.Threading.PeriodicTimer"/>:
/// <c>while (await timer.WaitForNextTickAsync(ct)) { ... }</c>. Create it with
/// <see cref="AioContext.CreatePeriodicTimer"/>.
/// </summary>
/// <remarks>
/// <para>Ticks come every <see cref="Period"/> on the timer's clock, on the loop, from the timer's creation (or from the
/// last change of <see cref="Period"/>). Ticks nobody waits for are coalesced: a tick that comes with no wait pending
/// makes the next <see cref="WaitForNextTickAsync"/> complete at once, however many ticks were missed, and a late loop
/// keeps the schedule (the next tick is the next multiple of the period) rather than catching up in a burst.</para>
/// <para>One wait at a time. Awaited on the loop (code running in a loop callback or in
/// <see cref="AioContext.InvokeAsync(Func{Task})"/> work), the continuation runs inline in the tick, and a tick
/// allocates nothing; awaited elsewhere, it resumes on the awaiter's context or the thread pool.</para>
/// <para><see cref="Dispose"/>, or disposing the context, ends the timer: a pending wait and every later one return
/// false.</para>
/// </remarks>
public sealed class AioPeriodicTimer : IDisposable
{
    /// <summary>The longest period <see cref="System.Threading.PeriodicTimer"/> accepts, and so this one.</summary>
    private const long MaxPeriodMs = 0xFFFF_FFFE;

    private readonly AioContext _context;
    private readonly AioTimer _timer;
    private readonly PeriodicTimerWaiter _waiter;
    private readonly Lock _lock = new();

    // Under _lock.
    private TimeSpan _period;
    private long _nextNs;
    private bool _signaled;
    private bool _stopped;

    internal AioPeriodicTimer(AioContext context, AioClock clock, TimeSpan period)
    {
        _context = context;
        _waiter = new PeriodicTimerWaiter(this, context, _lock);
        _timer = context.CreateTimer(clock, OnTick);
        if (!context.TryAddPeriodicTimer(this))
        {
            _timer.Dispose();
            throw new ObjectDisposedException(nameof(AioContext), $"AioContext '{context.Name}' was disposed.");
        }

        lock (_lock)
        {
            _period = period;
            ArmFromNowLocked();
        }
    }

    /// <summary>
    /// The time between ticks. Setting it (any thread) restarts the schedule: the next tick comes one new period from
    /// now. <see cref="Timeout.InfiniteTimeSpan"/> stops the ticks until a finite period is set.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero, negative (other than infinite), or more than 4294967294 ms.</exception>
    public TimeSpan Period
    {
        get
        {
            lock (_lock)
            {
                return _period;
            }
        }

        set
        {
            ValidatePeriod(value);
            lock (_lock)
            {
                _period = value;

                // A context disposed meanwhile ends the timer (it calls OnContextDisposed): nothing to arm then.
                if (!_stopped && !_context.IsDisposed)
                {
                    try
                    {
                        ArmFromNowLocked();
                    }
                    catch (ObjectDisposedException) when (_context.IsDisposed)
                    {
                        // Disposed on another thread since the check: the timer ended with it, as in the branch above.
                    }
                }
            }
        }
    }

    /// <summary>The clock the ticks are measured on.</summary>
    public AioClock Clock => _timer.Clock;

    /// <summary>
    /// Waits for the next tick, or returns at once if a tick came since the last wait. Returns true for a tick, false
    /// once the timer (or its context) is disposed. Any thread; one wait at a time.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not the timer): the wait throws <see cref="OperationCanceledException"/>,
    /// and the timer keeps ticking for the next one.</param>
    /// <returns>True at a tick, false when the timer has ended.</returns>
    /// <exception cref="InvalidOperationException">Another wait is still pending (or its result was not consumed).</exception>
    public ValueTask<bool> WaitForNextTickAsync(CancellationToken cancellationToken = default)
    {
        short version;
        lock (_lock)
        {
            if (_waiter.Active)
            {
                throw new InvalidOperationException("AioPeriodicTimer allows one WaitForNextTickAsync at a time; await the pending one first.");
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            // Stopped first: a tick that came before the Dispose and that nobody waited for does not outlive it.
            if (_stopped)
            {
                return new ValueTask<bool>(false);
            }

            if (_signaled)
            {
                _signaled = false;
                return new ValueTask<bool>(true);
            }

            // Decided here, before anything can complete the wait: the caller is (almost always) the awaiter, and a
            // completion from another thread must know at once whether to hand the continuation to the loop.
            version = _waiter.Begin(cancellationToken, SynchronizationContext.Current == _context.SynchronizationContext && _context.IsOnHomeThread);
        }

        // Outside the lock: a token cancelled meanwhile runs its callback right here, and that takes the lock.
        _waiter.Register(cancellationToken);
        return new ValueTask<bool>(_waiter, version);
    }

    /// <summary>Stops the timer: a pending wait returns false, and so does every later one. Any thread; safe to call twice.</summary>
    public void Dispose()
    {
        Stop();
        _context.RemovePeriodicTimer(this);
    }

    internal static void ValidatePeriod(TimeSpan period)
    {
        if (period != Timeout.InfiniteTimeSpan && (period <= TimeSpan.Zero || period.TotalMilliseconds > MaxPeriodMs))
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, "The period must be positive and at most 4294967294 ms, or Timeout.InfiniteTimeSpan.");
        }
    }

    /// <summary>The context is being disposed: the timer ends like <see cref="Dispose"/>.</summary>
    internal void OnContextDisposed() => Stop();

    private void Stop()
    {
        bool complete;
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            complete = _waiter.TryTake();
        }

        _timer.Dispose();
        if (complete)
        {
            _waiter.Complete(false, null);
        }
    }

    /// <summary>The AioTimer fired, on the loop: schedule the next tick, then wake the waiter or remember the tick.</summary>
    private void OnTick()
    {
        bool complete;
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            if (_period != Timeout.InfiniteTimeSpan)
            {
                long periodNs = _period.Ticks * 100;
                long next = _nextNs + periodNs;
                long now = _context.Now(_timer.Clock);
                if (next <= now)
                {
                    // The loop was late by one period or more: keep the phase, skip the missed ticks (they coalesce
                    // into this one).
                    next += (((now - next) / periodNs) + 1) * periodNs;
                }

                _nextNs = next;
                _timer.ArmAt(next);
            }

            complete = _waiter.TryTake();
            if (!complete)
            {
                _signaled = true;
            }
        }

        if (complete)
        {
            _waiter.Complete(true, null);
        }
    }

    /// <summary>The token of the pending wait was cancelled (any thread).</summary>
    internal void OnCancelled(CancellationToken cancellationToken)
    {
        bool complete;
        lock (_lock)
        {
            complete = _waiter.TryTake(cancellationToken);
        }

        if (complete)
        {
            _waiter.Complete(false, new OperationCanceledException(cancellationToken));
        }
    }

    /// <summary>Under _lock: the next tick one period from now (or none with an infinite period).</summary>
    private void ArmFromNowLocked()
    {
        if (_period == Timeout.InfiniteTimeSpan)
        {
            _timer.Cancel();
            return;
        }

        _nextNs = _context.Now(_timer.Clock) + (_period.Ticks * 100);
        _timer.ArmAt(_nextNs);
    }
}
