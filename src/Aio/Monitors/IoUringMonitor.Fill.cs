using Aio.Interop;
using Aio.Uring;

namespace Aio.Monitors;

/// <summary>Filling the SQ on the home thread: handler changes, fd polls, and user requests from other threads.</summary>
internal sealed partial class IoUringMonitor
{
    private bool _inPrepare;

    /// <summary>Home thread: turns queued handler changes and foreign requests into SQEs.</summary>
    public void FillSq()
    {
        while (_changes.TryDequeue(out var change))
        {
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
                ref var sqe = ref NextSqe();
                sqe.PrepPollRemove(state.ArmedUserData);
                sqe.UserData = RequestTable.IgnoreUserData;
            }
        }

        while (_foreign.TryDequeue(out var pending))
        {
            var handler = pending.Handler;
            ref var sqe = ref NextSqe();
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
    public void AddDirect<TState>(SqePreparer<TState> prepare, TState state, CqeHandler handler)
    {
        if (_inPrepare)
        {
            // The entry being prepared is already counted in the SQ tail: a nested submission would hand it to the
            // kernel half-filled.
            throw new InvalidOperationException("AddSqe cannot be called from inside an SqePreparer.");
        }

        ref var sqe = ref NextSqe();
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

        bool accepted = AcceptUserSqe(ref sqe, handler);
        if (accepted && MaxBatch > 0 && _ring.SqReady >= MaxBatch)
        {
            // SetAioParameters: hand batches of at most MaxBatch to the kernel as they fill, instead of all at once at
            // the end of the iteration (one big submission is plugged and reaches the device as one burst).
            SubmitOrReap();
        }

        if (!accepted)
        {
            throw new ArgumentException(
                "AddSqe rejects IOSQE_CQE_SKIP_SUCCESS (the handler would never hear of success) and IOSQE_IO_LINK/IO_HARDLINK " +
                "(a chain needs an API that submits it atomically).", nameof(prepare));
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

    private void ArmPoll(AioHandler handler, UringPollState state)
    {
        ref var sqe = ref NextSqe();
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
                ArmPoll(handler, state);
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

        // One-shot: re-arm now; if the fd is still ready when this is submitted, it completes at once (level-triggered).
        ArmPoll(handler, state);
    }
}
