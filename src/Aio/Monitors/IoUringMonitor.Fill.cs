using Aio.Interop;
using Aio.Uring;

namespace Aio.Monitors;

/// <summary>Filling the SQ on the home thread: handler changes, fd polls, and user requests from other threads.</summary>
internal sealed partial class IoUringMonitor
{
    private bool _inPrepare;

    /// <summary>Handlers whose one-shot poll completed: armed again by the next <see cref="FillSq"/>.</summary>
    private List<AioHandler> _rearm = [];

    /// <summary>The list <see cref="ArmCompletedPolls"/> is working through (swapped with <see cref="_rearm"/>).</summary>
    private List<AioHandler> _arming = [];

    /// <summary>
    /// Home thread: turns queued handler changes, completed polls and foreign requests into SQEs, each only once a slot is
    /// free for it; whatever does not fit stays queued for the next iteration.
    /// </summary>
    public void FillSq()
    {
        if (!ApplyHandlerChanges() || !ArmCompletedPolls())
        {
            return;
        }

        while (!_foreign.IsEmpty)
        {
            // Dequeue only with a slot guaranteed: a foreign caller cannot be told "refused", so its request must stay queued.
            if (!TryMakeRoom() || !_foreign.TryDequeue(out var pending))
            {
                return;
            }

            var handler = pending.Handler;
            ref var sqe = ref _ring.NextSqe();
            _inPrepare = true;
            try
            {
                pending.Prepare(ref sqe);
            }
            catch (Exception ex)
            {
                MakeHarmless(ref sqe);
                pending.Return();

                // The caller is on another thread: an async operation completes its awaiter with the exception (and the
                // loop goes on); a raw handler cannot be told, so the exception surfaces from Poll as before.
                if (handler.OnPrepareFailed(ex))
                {
                    // The awaiter's ending may wait in a bottom half: this iteration must not sleep past it.
                    _usefulCompletion = true;
                    continue;
                }

                throw;
            }
            finally
            {
                _inPrepare = false;
            }

            pending.Return();
            if (!AcceptUserSqe(ref sqe, handler))
            {
                // The caller is on another thread and cannot be thrown at: the handler hears EINVAL instead.
                _completions.Enqueue(new Completion(handler, new Cqe(0, -Errno.EINVAL, 0)));
                _usefulCompletion = true;
            }
        }
    }

    /// <summary>Home thread, ring enabled: prepares a user request straight into the SQ.</summary>
    /// <exception cref="InvalidOperationException">Called from inside an SqePreparer.</exception>
    /// <exception cref="AioException">The SQ is full and the kernel refuses submissions (nothing was taken).</exception>
    public void AddDirect<TState>(SqePreparer<TState> prepare, TState state, CqeHandler handler)
    {
        if (_inPrepare)
        {
            // The entry being prepared is already counted in the SQ tail: a nested submission would hand it to the
            // kernel half-filled.
            throw new InvalidOperationException("AddSqe cannot be called from inside an SqePreparer.");
        }

        if (!TryMakeRoom())
        {
            // Refused before anything was taken: the caller may retry, and nothing of this request reaches the kernel.
            Errors.Throw(_refusedErrno, "io_uring_enter (submission queue full)");
        }

        ref var sqe = ref _ring.NextSqe();
        _inPrepare = true;
        try
        {
            prepare(ref sqe, state);
        }
        catch
        {
            MakeHarmless(ref sqe);
            throw;
        }
        finally
        {
            _inPrepare = false;
        }

        if (!AcceptUserSqe(ref sqe, handler))
        {
            throw new ArgumentException(
                "AddSqe rejects IOSQE_CQE_SKIP_SUCCESS (the handler would never hear of success) and IOSQE_IO_LINK/IO_HARDLINK " +
                "(a chain needs an API that submits it atomically).", nameof(prepare));
        }

        if (MaxBatch > 0 && _ring.SqReady >= MaxBatch)
        {
            // SetAioParameters: hand batches of at most MaxBatch to the kernel as they fill, instead of all at once at
            // the end of the iteration (one big submission is plugged and reaches the device as one burst). The request
            // is accepted: if the kernel refuses now, it stays in the SQ for the iteration's own submission, and AddSqe
            // must not throw for a request that goes ahead (a retrying caller would get two completions).
            _ = _ring.TrySubmit();
        }
    }

    /// <summary>Handler changes, in order; false if the SQ filled up before the queue was empty.</summary>
    private bool ApplyHandlerChanges()
    {
        while (_changes.TryPeek(out var change))
        {
            // Peeked, not taken, until a slot is sure (home thread is the only consumer, so the peeked change is the next).
            if (!TryMakeRoom())
            {
                return false;
            }

            _changes.TryDequeue(out _);
            var state = (UringPollState)change.Handler.MonitorState!;
            if (change.Add)
            {
                if (!state.Removed && !change.Handler.IsDeleted)
                {
                    ArmPoll(change.Handler, state);
                }

                continue;
            }

            state.Removed = true;
            if (state.Armed)
            {
                ref var sqe = ref _ring.NextSqe();
                sqe.PrepPollRemove(state.ArmedUserData);
                sqe.UserData = RequestTable.IgnoreUserData;
            }
        }

        return true;
    }

    /// <summary>
    /// Re-arms the polls that completed since the last fill, each once. Completions reaped meanwhile (while making room)
    /// go to the other list and wait for the next fill: that bounds the work per iteration however many fds are ready.
    /// False if the SQ filled up first; the rest then waits for the next fill.
    /// </summary>
    private bool ArmCompletedPolls()
    {
        if (_rearm.Count == 0)
        {
            return true;
        }

        (_arming, _rearm) = (_rearm, _arming);
        int next = 0;
        try
        {
            for (; next < _arming.Count; next++)
            {
                var handler = _arming[next];
                var state = (UringPollState)handler.MonitorState!;
                if (state.Removed || state.Armed || handler.IsDeleted)
                {
                    continue;
                }

                if (!TryMakeRoom())
                {
                    return false;
                }

                ArmPoll(handler, state);
            }

            return true;
        }
        finally
        {
            // Whatever was not armed (no room, or a submission failure thrown) is kept for the next fill.
            for (; next < _arming.Count; next++)
            {
                _rearm.Add(_arming[next]);
            }

            _arming.Clear();
        }
    }

    /// <summary>Rejects flags AddSqe cannot honour (turning the entry into an ignored NOP); otherwise tags it with a slot.</summary>
    private bool AcceptUserSqe(ref Sqe sqe, CqeHandler handler)
    {
        if ((sqe.Flags & (SqeFlags.CqeSkipSuccess | SqeFlags.IoLink | SqeFlags.IoHardlink)) != 0)
        {
            MakeHarmless(ref sqe);
            return false;
        }

        ulong userData = _requests.Add(handler, RequestKind.User);
        sqe.UserData = userData;
        handler.OnSubmitted(userData);
        return true;
    }

    /// <summary>An SQE cannot be handed back once taken; a NOP whose completion is ignored is the closest thing.</summary>
    private static void MakeHarmless(ref Sqe sqe)
    {
        sqe.PrepNop();
        sqe.UserData = RequestTable.IgnoreUserData;
    }

    /// <summary>Queues the handler's POLL_ADD. The caller has made sure a slot is free.</summary>
    private void ArmPoll(AioHandler handler, UringPollState state)
    {
        ref var sqe = ref _ring.NextSqe();
        sqe.PrepPollAdd(handler.Fd, handler.Events);
        ulong userData = _requests.Add(handler, RequestKind.FdPoll);
        sqe.UserData = userData;
        state.ArmedUserData = userData;
    }

    private void CompleteFdPoll(AioHandler handler, in Cqe cqe)
    {
        var state = (UringPollState)handler.MonitorState!;
        state.ArmedUserData = 0;
        if (state.Removed || handler.IsDeleted)
        {
            // Removed meanwhile (also when this completion raced with a queued POLL_REMOVE): reclaimable now.
            return;
        }

        if (cqe.Result < 0)
        {
            if (cqe.Result == -Errno.ECANCELED)
            {
                _rearm.Add(handler);
                return;
            }

            // EBADF and friends: the fd became invalid. Re-arming would fail forever.
            _onInvalidFd(handler);
            return;
        }

        if (_collector is { } ready)
        {
            ready.Add(handler, (PollEvents)(short)cqe.Result);
        }
        else
        {
            // Reaped while making room in the SQ, outside a wait: hand it to the next one.
            _orphans.Add(handler);
            _orphanEvents.Add((PollEvents)(short)cqe.Result);
        }

        // One-shot: re-armed by the next fill, after this iteration's dispatch; if the fd is still ready then, the poll
        // completes at once (level-triggered).
        _rearm.Add(handler);
    }
}
