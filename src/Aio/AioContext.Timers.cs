namespace Aio;

// Timers and clocks.
public sealed partial class AioContext
{
    private readonly TimerList _monotonicTimers = new(AioClock.Monotonic);
    private readonly TimerList _wallClockTimers = new(AioClock.WallClock);

    /// <summary>Creates a timer on <paramref name="clock"/> whose <paramref name="callback"/> runs on this context's loop. Any thread.</summary>
    public AioTimer CreateTimer(AioClock clock, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfDisposed();
        var list = clock switch
        {
            AioClock.Monotonic => _monotonicTimers,
            AioClock.WallClock => _wallClockTimers,
            _ => throw new ArgumentOutOfRangeException(nameof(clock), clock, "Unknown clock."),
        };
        return new AioTimer(this, list, callback);
    }

    /// <summary>The current time on <paramref name="clock"/>, in nanoseconds.</summary>
    public long Now(AioClock clock) => clock switch
    {
        AioClock.Monotonic => MonotonicNs(),
        AioClock.WallClock => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100,
        _ => throw new ArgumentOutOfRangeException(nameof(clock), clock, "Unknown clock."),
    };

    /// <summary>CLOCK_MONOTONIC in nanoseconds (what Stopwatch reads on Linux, and what ppoll and io_uring time out on).</summary>
    internal static long MonotonicNs() => Interop.MonotonicClock.Ns;

    /// <summary>Step 9: expired timers, one clock read per list and pass.</summary>
    private bool RunTimers() => RunTimerList(_monotonicTimers) | (!IsDisposed && RunTimerList(_wallClockTimers));

    private bool RunTimerList(TimerList list)
    {
        if (list.FirstExpire < 0)
        {
            return false;
        }

        bool progress = false;
        long now = Now(list.Clock);
        if ((ulong)list.FirstExpire > (ulong)now)
        {
            return false;
        }

        // At most as many timers as were armed when the pass began: a callback that re-arms its timer at or before
        // `now` (ArmAt(0), a catch-up schedule) fires again in the next iteration, not endlessly in this pass, which
        // would starve bottom halves, fds and Dispose (the same guard bottom halves have).
        int budget = list.Count;
        while (budget-- > 0 && list.PopExpired(now) is { } timer)
        {
            if (timer.IsDisposed)
            {
                continue;
            }

            progress = true;
            _timersFired++;
            timer.Invoke();
            if (IsDisposed)
            {
                break;
            }
        }

        return progress;
    }
}
