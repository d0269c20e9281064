namespace Aio;

/// <summary>
/// The pending timers of one clock, sorted by deadline, equal deadlines in arming order. Armed from any thread under
/// a lock; the earliest deadline is mirrored in a volatile field so the loop reads it without locking.
/// </summary>
internal sealed class TimerList
{
    private readonly Lock _lock = new();
    private readonly List<AioTimer> _active = [];
    private long _firstExpire = -1;
    private bool _closed;

    public TimerList(AioClock clock) => Clock = clock;

    public AioClock Clock { get; }

    /// <summary>The earliest deadline, or -1 with nothing pending.</summary>
    public long FirstExpire => Volatile.Read(ref _firstExpire);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _active.Count;
            }
        }
    }

    /// <summary>(Re)arms <paramref name="timer"/>; true if it became the earliest (so a sleeping loop must re-compute its timeout).</summary>
    /// <exception cref="ObjectDisposedException">
    /// The timer was disposed, or the list cleared with its context, on another thread since the caller's check: under
    /// the lock, so that a timer is never inserted after its Dispose or the context's teardown removed everything.
    /// </exception>
    public bool Arm(AioTimer timer, long expireNs)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(timer.IsDisposed, timer);
            ObjectDisposedException.ThrowIf(_closed, typeof(AioContext));
            RemoveLocked(timer);
            int i = _active.Count;
            while (i > 0 && _active[i - 1].ExpireNsUnsafe > expireNs)
            {
                i--;
            }

            timer.ExpireNsUnsafe = expireNs;
            _active.Insert(i, timer);
            UpdateFirst();
            return i == 0;
        }
    }

    public void Remove(AioTimer timer)
    {
        lock (_lock)
        {
            RemoveLocked(timer);
            UpdateFirst();
        }
    }

    /// <summary>Pops the earliest timer if it expired by <paramref name="now"/>.</summary>
    public AioTimer? PopExpired(long now)
    {
        if ((ulong)Volatile.Read(ref _firstExpire) > (ulong)now)
        {
            return null;
        }

        lock (_lock)
        {
            if (_active.Count == 0 || _active[0].ExpireNsUnsafe > now)
            {
                return null;
            }

            var timer = _active[0];
            _active.RemoveAt(0);
            timer.ExpireNsUnsafe = -1;
            UpdateFirst();
            return timer;
        }
    }

    /// <summary>At the context's teardown: disarms every timer, and refuses later arms.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _closed = true;
            foreach (var t in _active)
            {
                t.ExpireNsUnsafe = -1;
            }

            _active.Clear();
            UpdateFirst();
        }
    }

    private void RemoveLocked(AioTimer timer)
    {
        if (timer.ExpireNsUnsafe >= 0)
        {
            _active.Remove(timer);
            timer.ExpireNsUnsafe = -1;
        }
    }

    private void UpdateFirst() => Volatile.Write(ref _firstExpire, _active.Count == 0 ? -1 : _active[0].ExpireNsUnsafe);
}
