using Aio.Interop;

namespace Aio.Net;

/// <summary>Sends without io_uring: non-blocking sendmsg(2) on the loop, waiting for writability through the fd handler when the socket buffer is full.</summary>
internal sealed class PollSendOperation : SendOperation
{
    private readonly Action _onWritable;
    private Exception? _closeReason;

    public PollSendOperation(AioSocket socket)
        : base(socket)
    {
        _onWritable = OnWritable;
    }

    public override bool KernelIdle => true;

    public override void BeginClose(Exception reason)
    {
        _closeReason = reason;
        Socket.Readiness.ClearWrite();
        if (IsPending)
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

        TrySend();
    }

    protected override void CancelPending()
    {
        Socket.Readiness.ClearWrite();
        SendCancelled();
    }

    private void OnWritable()
    {
        if (!IsPending || _closeReason is not null)
        {
            Socket.Readiness.ClearWrite();
            return;
        }

        TrySend();
    }

    private void TrySend()
    {
        while (!Done)
        {
            Gather.PrepareHeader(Index, Math.Min(Gather.Count - Index, Libc.IOV_MAX));
            long result = Gather.SendNonBlocking(Socket.Fd, MsgFlags);
            if (result == -Errno.EAGAIN)
            {
                Socket.Readiness.WantWrite(_onWritable);
                return;
            }

            if (result == -Errno.EINTR)
            {
                continue;
            }

            if (result < 0)
            {
                Socket.Readiness.ClearWrite();
                SendFailed(SocketErrors.Exception((int)-result));
                return;
            }

            Advance(result);
        }

        Socket.Readiness.ClearWrite();
        Succeed();
    }
}
