namespace Aio;

/// <summary>
/// The registered handlers of one context, shared with its monitor. Writers (any thread) take the lock; the
/// version number lets the poll(2) monitor rebuild its pollfd array only when something changed.
/// </summary>
internal sealed class HandlerTable
{
    private readonly Dictionary<int, AioHandler> _byFd = [];
    private readonly List<AioHandler> _deleted = [];
    private int _version;
    private int _withoutPoll;
    private int _count;
    private int _deletedCount;

    /// <summary>Guards every member; held only for short, non-blocking work.</summary>
    public Lock Sync { get; } = new();

    /// <summary>Changes whenever a handler is added, replaced or removed.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Live handlers (internal ones included).</summary>
    /// <remarks>
    /// The counts are copies the writers keep under the lock and readers take without it: the loop asks for them
    /// every iteration, and a lock there costs more than the rest of an idle iteration. A change made on another
    /// thread at the same moment shows in the next iteration.
    /// </remarks>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Deleted handlers not reclaimed yet.</summary>
    public int DeletedCount => Volatile.Read(ref _deletedCount);

    /// <summary>How many live handlers have no busy-poll callback (userspace polling is off while this is non-zero).</summary>
    public int WithoutPoll => Volatile.Read(ref _withoutPoll);

    /// <summary>The live handler for <paramref name="fd"/>. Caller holds <see cref="Sync"/>.</summary>
    public AioHandler? Find(int fd) => _byFd.GetValueOrDefault(fd);

    /// <summary>Snapshot of the live handlers into <paramref name="into"/>. Caller holds <see cref="Sync"/>.</summary>
    public void CopyTo(List<AioHandler> into)
    {
        into.Clear();
        foreach (var h in _byFd.Values)
        {
            into.Add(h);
        }
    }

    /// <summary>Installs <paramref name="replacement"/> (or removes when null) and returns the old handler. Caller holds <see cref="Sync"/>.</summary>
    public AioHandler? Swap(int fd, AioHandler? replacement)
    {
        _byFd.Remove(fd, out var old);
        if (old is not null)
        {
            old.MarkDeleted();
            _deleted.Add(old);
            if (old.Poll is null)
            {
                _withoutPoll--;
            }
        }

        if (replacement is not null)
        {
            _byFd[fd] = replacement;
            if (replacement.Poll is null)
            {
                _withoutPoll++;
            }
        }

        _version++;
        Volatile.Write(ref _count, _byFd.Count);
        Volatile.Write(ref _deletedCount, _deleted.Count);
        return old;
    }

    /// <summary>Forgets deleted handlers that <paramref name="stillInUse"/> does not hold on to. Caller holds <see cref="Sync"/>.</summary>
    public void Reclaim(Func<AioHandler, bool> stillInUse)
    {
        _deleted.RemoveAll(h => !stillInUse(h));
        Volatile.Write(ref _deletedCount, _deleted.Count);
    }
}
