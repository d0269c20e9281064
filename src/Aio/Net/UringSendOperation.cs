using Aio.Interop;
using Aio.Uring;

namespace Aio.Net;

/// <summary>
/// Sends on the ring: SEND for one segment, SENDMSG for several (at most IOV_MAX per request), always with
/// MSG_NOSIGNAL (and MSG_MORE when the caller asked for it); a short send resubmits the rest, so the awaiter sees all
/// bytes or an error.
/// </summary>
internal sealed class UringSendOperation : SendOperation, IKernelRequestOwner
{
    private static readonly SqePreparer<UringSendOperation> s_prepare = static (ref Sqe sqe, UringSendOperation op) => op.Prepare(ref sqe);

    private readonly KernelRequest _request;
    private Exception? _closeReason;

    public UringSendOperation(AioSocket socket)
        : base(socket)
    {
        _request = new KernelRequest(this, socket.Context);
    }

    public override bool KernelIdle => !_request.InFlight;

    protected override bool KernelHoldsCallerMemory => _request.InFlight;

    public override void BeginClose(Exception reason)
    {
        _closeReason = reason;
        _request.Cancel();
        if (IsPending && !_request.InFlight)
        {
            SendFailed(reason);
        }
    }

    protected override void StartOnLoop()
    {
        if (!IsPending)
        {
            return;
        }

        if (_closeReason is not null)
        {
            SendFailed(_closeReason);
            return;
        }

        if (Done)
        {
            Succeed();
            return;
        }

        if (!_request.Submit(s_prepare, this))
        {
            RetryLater();
        }
    }

    protected override void CancelPending() => _request.Cancel();

    public void OnKernelCompletion(KernelRequest request, in Cqe cqe)
    {
        int result = cqe.Result;
        if (result > 0)
        {
            Advance(result);
        }

        if (_closeReason is not null)
        {
            SendFailed(_closeReason);
            Socket.TryFinishClose();
        }
        else if (result < 0 && result == -Errno.ECANCELED && _request.CancelRequested)
        {
            SendCancelled();
        }
        // An EAGAIN goes on like a short send that made no progress: the kernel hands it back when its retry after a
        // poll found no room again (another writer, a shrunk buffer) instead of polling twice; a new request polls afresh.
        else if (result < 0 && result != -Errno.EAGAIN)
        {
            SendFailed(SocketErrors.Exception(-result));
        }
        else if (Done)
        {
            Succeed();
        }
        else if (Token.IsCancellationRequested)
        {
            // A short send (or an EAGAIN) raced with the cancellation, whose cancel went to the request that ended:
            // stop here.
            SendCancelled();
        }
        else if (!_request.Submit(s_prepare, this))
        {
            RetryLater();
        }
    }

    public void OnKernelAbandoned(KernelRequest request, bool kernelReleased)
    {
        if (!kernelReleased)
        {
            ForgetPins();
        }

        if (IsPending)
        {
            SendFailed(new ObjectDisposedException(nameof(AioContext), "The socket's AioContext was disposed with the send in flight."));
        }

        if (_closeReason is not null)
        {
            // A close waiting for this request's completion: the teardown ended it instead.
            Socket.TryFinishClose();
        }
    }

    private void Prepare(ref Sqe sqe)
    {
        int count = Math.Min(Gather.Count - Index, Libc.IOV_MAX);
        int flags = Libc.MSG_NOSIGNAL | (Context.SocketIoDontWait ? Libc.MSG_DONTWAIT : 0) | MsgFlags;
        if (count == 1)
        {
            sqe.PrepSend(Socket.Fd, Gather.BaseAt(Index), (uint)Gather.LengthAt(Index), flags);
            return;
        }

        Gather.PrepareHeader(Index, count);
        sqe.PrepSend(Socket.Fd, Gather.HeaderAddress, 1, flags);
        sqe.Opcode = IoUringOpcode.SendMsg;
    }
}
