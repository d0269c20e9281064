namespace Aio;

// Periodic timers: the context tells each one when it is disposed, so that no waiter waits for good.
public sealed partial class AioContext
{
    private readonly HashSet<AioPeriodicTimer> _periodicTimers = [];
    private bool _periodicTimersClosed;

    /// <summary>
    /// Creates a timer that ticks every <paramref name="period"/> on this context's loop, from now on; await its ticks
    /// with <see cref="AioPeriodicTimer.WaitForNextTickAsync"/>. Any thread.
    /// </summary>
    /// <param name="period">The time between ticks: positive, at most 4294967294 ms (as for
    /// <see cref="System.Threading.PeriodicTimer"/>), or <see cref="Timeout.InfiniteTimeSpan"/> for a timer that does
    /// not tick until <see cref="AioPeriodicTimer.Period"/> is set.</param>
    /// <param name="clock">The clock the ticks are measured on.</param>
    /// <returns>The timer; dispose it to stop it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="period"/> or <paramref name="clock"/> is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The context was disposed.</exception>
    public AioPeriodicTimer CreatePeriodicTimer(TimeSpan period, AioClock clock = AioClock.Monotonic)
    {
        AioPeriodicTimer.ValidatePeriod(period);
        return new AioPeriodicTimer(this, clock, period);
    }

    /// <summary>False, with nothing registered, once the context is disposed.</summary>
    internal bool TryAddPeriodicTimer(AioPeriodicTimer timer)
    {
        lock (_periodicTimers)
        {
            return !_periodicTimersClosed && _periodicTimers.Add(timer);
        }
    }

    internal void RemovePeriodicTimer(AioPeriodicTimer timer)
    {
        lock (_periodicTimers)
        {
            _periodicTimers.Remove(timer);
        }
    }

    /// <summary>Dispose: every periodic timer ends (a pending wait returns false), and no new one registers.</summary>
    private void DisposePeriodicTimers()
    {
        AioPeriodicTimer[] all;
        lock (_periodicTimers)
        {
            _periodicTimersClosed = true;
            all = [.. _periodicTimers];
            _periodicTimers.Clear();
        }

        foreach (var timer in all)
        {
            timer.OnContextDisposed();
        }
    }
}
