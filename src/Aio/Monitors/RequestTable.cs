namespace Aio.Monitors;

/// <summary>
/// Maps io_uring user_data to the object waiting for the completion, without GC handles: user_data is
/// <c>(generation &lt;&lt; 32) | (slot + 1)</c>, so 0 never names a request (it marks completions to ignore) and a
/// stale completion for a recycled slot is recognised by its generation. Home thread only.
/// </summary>
internal sealed class RequestTable
{
    public const ulong IgnoreUserData = 0;

    private object?[] _targets = new object?[64];
    private uint[] _generations = new uint[64];
    private RequestKind[] _kinds = new RequestKind[64];
    private int[] _free = new int[64];
    private int _freeCount;
    private int _used;

    /// <summary>Requests in flight.</summary>
    public int InFlight { get; private set; }

    public ulong Add(object target, RequestKind kind)
    {
        int slot;
        if (_freeCount > 0)
        {
            slot = _free[--_freeCount];
        }
        else
        {
            if (_used == _targets.Length)
            {
                Grow();
            }

            slot = _used++;
        }

        _targets[slot] = target;
        _kinds[slot] = kind;
        uint gen = ++_generations[slot];
        InFlight++;
        return ((ulong)gen << 32) | (uint)(slot + 1);
    }

    public bool TryGet(ulong userData, out object target, out RequestKind kind)
    {
        int slot = (int)(uint)userData - 1;
        if (slot < 0 || slot >= _used || _generations[slot] != (uint)(userData >> 32) || _targets[slot] is not { } t)
        {
            target = null!;
            kind = default;
            return false;
        }

        target = t;
        kind = _kinds[slot];
        return true;
    }

    public void Remove(ulong userData)
    {
        int slot = (int)(uint)userData - 1;
        if (slot < 0 || slot >= _used || _generations[slot] != (uint)(userData >> 32) || _targets[slot] is null)
        {
            return;
        }

        _targets[slot] = null;
        _free[_freeCount++] = slot;
        InFlight--;
    }

    /// <summary>User requests in flight.</summary>
    public int UserInFlight
    {
        get
        {
            int n = 0;
            for (int i = 0; i < _used; i++)
            {
                if (_kinds[i] == RequestKind.User && _targets[i] is not null)
                {
                    n++;
                }
            }

            return n;
        }
    }

    /// <summary>Calls <paramref name="action"/> for every fd handler whose POLL_ADD is in flight or queued.</summary>
    public void ForEachFdPoll(Action<AioHandler> action)
    {
        for (int i = 0; i < _used; i++)
        {
            if (_kinds[i] == RequestKind.FdPoll && _targets[i] is AioHandler h)
            {
                action(h);
            }
        }
    }

    /// <summary>Calls <paramref name="action"/> for every user request in flight.</summary>
    public void ForEachUser(Action<CqeHandler> action)
    {
        for (int i = 0; i < _used; i++)
        {
            if (_kinds[i] == RequestKind.User && _targets[i] is CqeHandler h)
            {
                action(h);
            }
        }
    }

    /// <summary>Calls <paramref name="action"/> with the user_data of every request in flight.</summary>
    public void ForEachUserData(Action<ulong> action)
    {
        for (int i = 0; i < _used; i++)
        {
            if (_targets[i] is not null)
            {
                action(((ulong)_generations[i] << 32) | (uint)(i + 1));
            }
        }
    }

    /// <summary>Forgets every request (the ring is going away).</summary>
    public void Clear()
    {
        Array.Clear(_targets);
        _freeCount = 0;
        _used = 0;
        InFlight = 0;
    }

    private void Grow()
    {
        int size = _targets.Length * 2;
        Array.Resize(ref _targets, size);
        Array.Resize(ref _generations, size);
        Array.Resize(ref _kinds, size);
        Array.Resize(ref _free, size);
    }
}
