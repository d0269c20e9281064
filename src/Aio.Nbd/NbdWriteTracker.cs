namespace Aio.Nbd;

/// <summary>
/// The writes in flight on one O_DIRECT export, in arrival order, after QEMU's tracked requests: a request that
/// rewrites whole blocks from a copy it read first (an unaligned write's read-modify-write, a TRIM or WRITE_ZEROES
/// whose edges the kernel zeroes inside a block) is <em>serialising</em>, and waits for every earlier write it overlaps
/// while every later one overlapping it waits for it. Plain aligned writes overlap each other freely (NBD leaves their
/// order open), but never a serialising one: otherwise an aligned write landing between a read-modify-write's read and
/// its write would be undone by the stale copy, a result neither order gives.
/// </summary>
/// <remarks>
/// Waits only ever go to earlier entries, so they cannot form a cycle; a serialising request registers before it
/// waits, so a stream of later writes cannot starve it. One lock per export, held for a list link and, when a
/// serialising request is in flight, a scan of the entries in flight (at most the connections' in-flight caps).
/// </remarks>
internal sealed class NbdWriteTracker
{
    private readonly Lock _lock = new();
    private Entry? _head;
    private Entry? _tail;
    private Entry? _free;
    private int _serialising;

    /// <summary>
    /// Registers a write of the aligned range [<paramref name="start"/>, <paramref name="end"/>) and completes when
    /// it may go ahead; the caller passes the result to <see cref="End"/> once the write is done (or failed).
    /// </summary>
    public ValueTask<Entry> BeginAsync(long start, long end, bool serialising)
    {
        Task waitFor;
        Entry entry;
        lock (_lock)
        {
            entry = _free ?? new Entry();
            _free = entry.Next;
            entry.Start = start;
            entry.End = end;
            entry.Serialising = serialising;
            entry.Next = null;
            entry.Previous = _tail;
            if (_tail is null)
            {
                _head = entry;
            }
            else
            {
                _tail.Next = entry;
            }

            _tail = entry;
            if (serialising)
            {
                _serialising++;
            }

            var conflict = EarlierConflict(entry);
            if (conflict is null)
            {
                return new ValueTask<Entry>(entry);
            }

            waitFor = WaiterOf(conflict);
        }

        return WaitAsync(entry, waitFor);
    }

    /// <summary>Unregisters <paramref name="entry"/> and lets the writes that waited for it go on.</summary>
    public void End(Entry entry)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (entry.Previous is null)
            {
                _head = entry.Next;
            }
            else
            {
                entry.Previous.Next = entry.Next;
            }

            if (entry.Next is null)
            {
                _tail = entry.Previous;
            }
            else
            {
                entry.Next.Previous = entry.Previous;
            }

            if (entry.Serialising)
            {
                _serialising--;
            }

            waiter = entry.Waiter;
            entry.Waiter = null;
            entry.Previous = null;
            entry.Next = _free;
            _free = entry;
        }

        // Outside the lock: the waiters' continuations are queued (RunContinuationsAsynchronously), never run here.
        waiter?.TrySetResult();
    }

    /// <summary>Writes registered and not yet ended (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                int count = 0;
                for (var e = _head; e is not null; e = e.Next)
                {
                    count++;
                }

                return count;
            }
        }
    }

    private async ValueTask<Entry> WaitAsync(Entry entry, Task waitFor)
    {
        while (true)
        {
            await waitFor.ConfigureAwait(true);
            lock (_lock)
            {
                var conflict = EarlierConflict(entry);
                if (conflict is null)
                {
                    return entry;
                }

                waitFor = WaiterOf(conflict);
            }
        }
    }

    private Entry? EarlierConflict(Entry entry)
    {
        if (_serialising == 0)
        {
            // Only plain writes in flight: none waits for another.
            return null;
        }

        for (var e = entry.Previous; e is not null; e = e.Previous)
        {
            if ((e.Serialising || entry.Serialising) && e.Start < entry.End && entry.Start < e.End)
            {
                return e;
            }
        }

        return null;
    }

    private static Task WaiterOf(Entry conflict)
        => (conflict.Waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>One registered write (pooled: never used after <see cref="End"/>).</summary>
    internal sealed class Entry
    {
        public long Start;
        public long End;
        public bool Serialising;
        public Entry? Previous;
        public Entry? Next;
        public TaskCompletionSource? Waiter;
    }
}
