using Aio.Interop;
using Aio.Uring;

namespace Aio.Monitors;

/// <summary>Dispose: cancelling what is in flight, and abandoning what the kernel does not give back in time.</summary>
internal sealed partial class IoUringMonitor
{
    /// <summary>
    /// Cancels every request in flight and waits (bounded) until the kernel has let go of them, discarding the
    /// completions: memory a request points at must not be released while the kernel may still write it. At the
    /// deadline, what is left is abandoned with <c>kernelReleased: false</c> (its memory stays pinned; ring-backed
    /// operations end with <see cref="ObjectDisposedException"/>). Returns false in that case, or when called off the
    /// home thread with user requests in flight.
    /// </summary>
    public bool CancelAll(TimeSpan timeout)
    {
        if (_disposed || _requests.InFlight == 0)
        {
            AbandonQueued();
            return true;
        }

        if (!_ring.IsBound || _ring.OwnerThreadId != Environment.CurrentManagedThreadId)
        {
            // Only the owner may enter the ring. Closing it makes the kernel cancel what is left, asynchronously,
            // so whatever those requests point at must stay pinned.
            ReapBeforeAbandoning();
            int users = _requests.UserInFlight;
            AbandonInFlight();
            AbandonQueued();

            // fd polls point at no user memory: only user requests make this worth reporting.
            return users == 0;
        }

        long deadline = AioContext.MonotonicNs() + (long)timeout.TotalNanoseconds;
        bool each = CancelStrategy == CancelStrategy.EachByUserData;
        bool anyQueued = false;
        var cancelled = new HashSet<ulong>();
        while (_requests.InFlight > 0)
        {
            long left = deadline - AioContext.MonotonicNs();
            if (left <= 0)
            {
                ReapBeforeAbandoning();
                AbandonInFlight();
                AbandonQueued();
                return false;
            }

            // Queued again on every round until it fits: under back-pressure a cancel may find no slot at first.
            if (CancelStrategy != CancelStrategy.None)
            {
                if (!each && !anyQueued)
                {
                    anyQueued = TryQueueCancelAny();
                }

                if (each)
                {
                    QueueCancelEach(cancelled);
                }
            }

            try
            {
                if (_ring.SubmitAndWait(1, Math.Min(left, 10_000_000)) < 0)
                {
                    _ = _ring.GetEvents();
                }
            }
            catch (AioException)
            {
                // ENOMEM and the like: transient, and Dispose must not throw for it. Reap what there is and go round
                // again; at the deadline whatever the kernel still holds is abandoned (kept pinned).
            }

            while (_ring.TryGetCqe(out var cqe))
            {
                if (cqe.UserData == CancelAnyUserData)
                {
                    // Kernels 5.5-5.18 know ASYNC_CANCEL but not CANCEL_ANY (EINVAL): one cancel per request, by user_data.
                    each |= cqe.Result == -Errno.EINVAL;
                    continue;
                }

                DiscardCompletion(in cqe);
            }
        }

        AbandonQueued();
        return true;
    }

    /// <summary>ASYNC_CANCEL with CANCEL_ALL|CANCEL_ANY: matches every request regardless of fd (5.19+). False if no slot.</summary>
    private bool TryQueueCancelAny()
    {
        if (!TryMakeRoom())
        {
            return false;
        }

        ref var sqe = ref _ring.NextSqe();
        sqe.PrepCancelFd(0, all: true);
        sqe.OpFlags = IoUringConstants.AsyncCancelAll | IoUringConstants.AsyncCancelAny;
        sqe.Fd = -1;
        sqe.UserData = CancelAnyUserData;
        return true;
    }

    /// <summary>One ASYNC_CANCEL by user_data (5.5+) for every request in flight not yet in <paramref name="cancelled"/>, while slots last.</summary>
    private void QueueCancelEach(HashSet<ulong> cancelled)
    {
        var targets = new List<ulong>();
        _requests.ForEachUserData(targets.Add);
        foreach (ulong userData in targets)
        {
            if (cancelled.Contains(userData))
            {
                continue;
            }

            if (!TryMakeRoom())
            {
                return;
            }

            ref var sqe = ref _ring.NextSqe();
            sqe.PrepCancel(userData);
            sqe.UserData = RequestTable.IgnoreUserData;
            cancelled.Add(userData);
        }
    }

    /// <summary>
    /// A completion reaped at Dispose: not delivered, but what it carries is told (a multishot ACCEPT's new fd must be
    /// closed), and the last one of a request releases it for real.
    /// </summary>
    private void DiscardCompletion(in Cqe cqe)
    {
        if (!_requests.TryGet(cqe.UserData, out object target, out var kind))
        {
            return;
        }

        if (kind == RequestKind.User)
        {
            ((CqeHandler)target).OnAbandonedCompletion(in cqe);
        }

        if (kind != RequestKind.User || !cqe.HasMore)
        {
            _requests.Remove(cqe.UserData);
            if (kind == RequestKind.User)
            {
                // Only now may memory the request points at be released.
                ((CqeHandler)target).OnAbandoned(kernelReleased: true);
            }
        }
    }

    /// <summary>
    /// Before giving up on what is in flight: completions the kernel already posted are read (the completion queue is
    /// plain memory, readable off the owner thread while it is not inside the context) and discarded properly, so a
    /// request that did complete is released for real and an fd it handed over is not lost. With DEFER_TASKRUN the
    /// kernel posts only while the owner enters, so this matters for the other tiers (an outer loop's, older kernels).
    /// </summary>
    private void ReapBeforeAbandoning()
    {
        while (_ring.TryGetCqe(out var cqe))
        {
            if (cqe.UserData != CancelAnyUserData)
            {
                DiscardCompletion(in cqe);
            }
        }
    }

    /// <summary>Gives up on every request still in flight: the kernel may still hold it, so its memory stays pinned.</summary>
    private void AbandonInFlight()
    {
        _requests.ForEachUser(static h => h.OnAbandoned(kernelReleased: false));
        _requests.Clear();
    }
}
