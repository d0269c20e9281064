namespace Aio;

/// <summary>
/// Bottom halves. Producers push onto a lock-free stack (<c>_bhHead</c>, a Treiber stack whose only pop is "take
/// everything", so ABA cannot happen). Each iteration takes the whole stack, reverses it into a FIFO batch and
/// appends the batch to <c>_bhBatches</c>; batches run oldest first, so a nested Poll finishes its parent's batch
/// before its own. A bottom half scheduled during a batch lands on the stack and runs in the next iteration.
/// </summary>
public sealed partial class AioContext
{
    private readonly List<BottomHalfBatch> _bhBatches = [];
    private readonly Stack<BottomHalfBatch> _batchPool = new();
    private BottomHalf? _bhHead;

    /// <summary>Creates a bottom half bound to this context. Any thread.</summary>
    public BottomHalf CreateBottomHalf(Action callback, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfDisposed();
        return new BottomHalf(this, callback, name, 0);
    }

    /// <summary>Runs <paramref name="callback"/> once on the loop, in the next iteration, then forgets it. Any thread; wakes the loop.</summary>
    public void ScheduleOneShot(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfDisposed();
        EnqueueBottomHalf(new BottomHalf(this, callback, null, BottomHalf.FlagOneShot), BottomHalf.FlagScheduled);
    }

    internal void EnqueueBottomHalf(BottomHalf bh, int flags)
    {
        ThrowIfDisposed();
        int old = bh.SetFlags(BottomHalf.FlagPending | flags);
        if ((old & BottomHalf.FlagPending) == 0)
        {
            // We set Pending, so we own bh.Next until the loop dequeues it.
            BottomHalf? head;
            do
            {
                head = Volatile.Read(ref _bhHead);
                bh.Next = head;
            }
            while (Interlocked.CompareExchange(ref _bhHead, bh, head) != head);
        }

        NotifyWork();
    }

    /// <summary>True if a bottom half will run in the next iteration (cancelled and deleted ones do not count).</summary>
    private bool HasRunnableBottomHalf()
    {
        // Walking the stack is safe on the home thread: producers only link new nodes in front of the head, and
        // only this thread unlinks.
        for (var bh = Volatile.Read(ref _bhHead); bh is not null; bh = bh.Next)
        {
            if (bh.IsScheduled)
            {
                return true;
            }
        }

        foreach (var batch in _bhBatches)
        {
            for (var bh = batch.Head; bh is not null; bh = bh.Next)
            {
                if (bh.IsScheduled)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Step 7: run every batch, oldest first.</summary>
    private bool RunBottomHalves()
    {
        var taken = Interlocked.Exchange(ref _bhHead, null);
        if (taken is not null)
        {
            BottomHalf? fifo = null;
            while (taken is not null)
            {
                var next = taken.Next;
                taken.Next = fifo;
                fifo = taken;
                taken = next;
            }

            var batch = _batchPool.Count > 0 ? _batchPool.Pop() : new BottomHalfBatch();
            batch.Head = fifo;
            _bhBatches.Add(batch);
        }

        bool progress = false;
        while (_bhBatches.Count > 0)
        {
            var batch = _bhBatches[0];
            var bh = batch.Head;
            if (bh is null)
            {
                _bhBatches.RemoveAt(0);
                _batchPool.Push(batch);
                continue;
            }

            // Unlink before clearing Pending: once Pending is clear a producer may re-link bh.
            batch.Head = bh.Next;
            bh.Next = null;
            int flags = bh.Dequeue();
            if ((flags & (BottomHalf.FlagScheduled | BottomHalf.FlagDeleted)) == BottomHalf.FlagScheduled)
            {
                progress = true;
                _bottomHalvesRun++;

                // If this throws, the rest of the batch stays queued and runs in the next iteration.
                bh.Invoke();
            }
        }

        return progress;
    }

    private void DisposeBottomHalves()
    {
        var taken = Interlocked.Exchange(ref _bhHead, null);
        while (taken is not null)
        {
            var next = taken.Next;
            taken.Next = null;
            taken.Dispose();
            taken = next;
        }

        _bhBatches.Clear();
    }
}
