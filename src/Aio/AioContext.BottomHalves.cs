using Aio.Diagnostics;

namespace Aio;

// Bottom halves. Producers push onto a lock-free stack (_bhHead, a Treiber stack whose only pop is "take
// everything", so ABA cannot happen). Each iteration takes the whole stack, reverses it into a FIFO batch and
// appends the batch to _bhBatches; batches run oldest first, so a nested Poll finishes its parent's batch
// before its own. A bottom half scheduled during a batch lands on the stack and runs in the next iteration.
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

    /// <summary>
    /// Like <see cref="CreateBottomHalf(Action, string?)"/>, and if the context is disposed while a run is queued,
    /// <paramref name="onAbandoned"/> runs instead of it (on the disposing thread, or on one whose schedule lost the
    /// race with the dispose), so that whoever waits for that run hears of it.
    /// </summary>
    /// <param name="callback">What each run does (the loop's thread).</param>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="onAbandoned">Runs instead of a queued run when the context is disposed first.</param>
    /// <exception cref="ObjectDisposedException">The context was disposed.</exception>
    public BottomHalf CreateBottomHalf(Action callback, string? name, Action onAbandoned)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ArgumentNullException.ThrowIfNull(onAbandoned);
        ThrowIfDisposed();
        return new BottomHalf(this, callback, name, 0, onAbandoned);
    }

    /// <summary>
    /// Runs <paramref name="callback"/> once on the loop, in the next iteration, then forgets it. Any thread; wakes the
    /// loop. If the context is disposed first, the callback never runs.
    /// </summary>
    public void ScheduleOneShot(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        EnqueueBottomHalf(new BottomHalf(this, callback, null, BottomHalf.FlagOneShot), BottomHalf.FlagScheduled);
    }

    /// <summary>
    /// Runs <paramref name="callback"/> once on the loop, in the next iteration, unless
    /// <paramref name="cancellationToken"/> is cancelled before it started; then forgets it. Any thread; wakes the loop.
    /// </summary>
    /// <remarks>
    /// Cancelled before it started, the callback never runs; once it started, the token does nothing. If the context is
    /// disposed first, the callback never runs.
    /// </remarks>
    /// <param name="callback">Runs on the loop.</param>
    /// <param name="cancellationToken">Cancels the callback while it has not started.</param>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public void ScheduleOneShot(Action callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ScheduleOneShot(static cb => cb(), callback, cancellationToken);
    }

    /// <summary>
    /// Runs <c>callback(state)</c> once on the loop, in the next iteration, unless <paramref name="cancellationToken"/>
    /// is cancelled before it started; then forgets it. Any thread; wakes the loop. With a static lambda nothing is
    /// captured: no closure is allocated.
    /// </summary>
    /// <remarks>
    /// Cancelled before it started, the callback never runs; once it started, the token does nothing. If the context is
    /// disposed first, the callback never runs.
    /// </remarks>
    /// <typeparam name="TState">The state's type.</typeparam>
    /// <param name="callback">Runs on the loop.</param>
    /// <param name="state">Passed to <paramref name="callback"/>.</param>
    /// <param name="cancellationToken">Cancels the callback while it has not started.</param>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public void ScheduleOneShot<TState>(Action<TState> callback, TState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        if (!new Async.OneShotCallback<TState>(callback, state).TrySchedule(this, cancellationToken))
        {
            ThrowDisposed();
        }
    }

    /// <summary>
    /// Like <see cref="ScheduleOneShot(Action)"/>, for work somebody waits for: if the context is disposed before the
    /// one-shot ran, <paramref name="onAbandoned"/> runs instead (on the disposing thread). Returns false, having queued
    /// nothing, if the context was disposed already.
    /// </summary>
    internal bool TryScheduleOneShot(Action callback, Action onAbandoned)
        => TryEnqueueBottomHalf(new BottomHalf(this, callback, null, BottomHalf.FlagOneShot, onAbandoned), BottomHalf.FlagScheduled);

    /// <summary>Queues a one-shot carrying a work item (see <see cref="Async.LoopWorkItem"/>); false, with nothing queued, once disposed.</summary>
    internal bool TryEnqueueWork(BottomHalf bh) => TryEnqueueBottomHalf(bh, BottomHalf.FlagScheduled);

    internal void EnqueueBottomHalf(BottomHalf bh, int flags)
    {
        if (!TryEnqueueBottomHalf(bh, flags))
        {
            ThrowDisposed();
        }
    }

    /// <summary>Queues <paramref name="bh"/>; false, with nothing queued, once the context is disposed.</summary>
    private bool TryEnqueueBottomHalf(BottomHalf bh, int flags)
    {
        if (IsDisposed)
        {
            return false;
        }

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

            // The CAS above is a full fence, and so is Dispose's on the lifecycle word before it takes the stack: either
            // Dispose's take sees this push, or this read sees Dispose. In the second case nobody may ever take the
            // stack again, so abandon what is on it here (a take is an exchange: each item goes to exactly one taker).
            if (IsDisposed)
            {
                try
                {
                    AbandonQueuedStack();
                }
                catch (Exception ex)
                {
                    // An abandon callback threw, maybe another bottom half's: not this scheduling caller's to handle.
                    // Every one ran; the failure is reported as a callback failure rather than thrown from Schedule.
                    AioEventSource.Log.CallbackFailed(Name, ex.ToString());
                }

                return true;
            }
        }

        NotifyWork();
        return true;
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
                if (IsDisposed)
                {
                    // It disposed the context, which abandoned the rest.
                    break;
                }
            }
        }

        return progress;
    }

    /// <summary>
    /// Dispose: every bottom half still queued is deleted; those that were going to run are abandoned, oldest first,
    /// which runs their abandon callbacks (see <see cref="BottomHalf.Abandon"/>). The batches are the home thread's, and no section runs now.
    /// </summary>
    private void DisposeBottomHalves()
    {
        // Every one is abandoned even if an abandon callback throws (somebody may wait on each, an InvokeAsync's task
        // say); the first exception is rethrown after.
        Exception? first = null;
        foreach (var batch in _bhBatches)
        {
            var bh = batch.Head;
            batch.Head = null;
            while (bh is not null)
            {
                var next = bh.Next;
                bh.Next = null;
                RunCollecting(bh.Abandon, ref first);
                bh = next;
            }
        }

        _bhBatches.Clear();
        RunCollecting(AbandonQueuedStack, ref first);
        ThrowIfAny(first);
    }

    /// <summary>Takes the whole lock-free stack and abandons it in FIFO order, every one even if a callback throws (the first exception is rethrown after). Any thread, once the context is disposed.</summary>
    private void AbandonQueuedStack()
    {
        var taken = Interlocked.Exchange(ref _bhHead, null);
        BottomHalf? fifo = null;
        while (taken is not null)
        {
            var next = taken.Next;
            taken.Next = fifo;
            fifo = taken;
            taken = next;
        }

        Exception? first = null;
        while (fifo is not null)
        {
            var next = fifo.Next;
            fifo.Next = null;
            RunCollecting(fifo.Abandon, ref first);
            fifo = next;
        }

        ThrowIfAny(first);
    }
}
