using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// Receives without io_uring: a non-blocking recv(2) on the loop, and when it would block, a wait for readability
/// through the socket's fd handler (epoll or poll(2)).
/// </summary>
internal sealed class PollReceiveOperation : ReceiveOperation
{
    private readonly Action _onReadable;
    private Exception? _closeReason;

    public PollReceiveOperation(AioSocket socket)
        : base(socket)
    {
        _onReadable = OnReadable;
    }

    public override bool KernelIdle => true;

    public override void BeginClose(Exception reason)
    {
        _closeReason = reason;
        Socket.Readiness.ClearRead();
        if (IsPending)
        {
            DeliverError(reason);
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
            DeliverError(_closeReason);
            return;
        }

        TryReceive();
    }

    protected override void CancelPending()
    {
        Socket.Readiness.ClearRead();
        DeliverCancelled();
    }

    private void OnReadable()
    {
        if (!IsPending || _closeReason is not null)
        {
            Socket.Readiness.ClearRead();
            return;
        }

        TryReceive();
    }

    private void TryReceive()
    {
        // A zero-byte receive only waits for data: it asks with a one-byte peek-free probe of readiness instead.
        int result;
        try
        {
            result = Buffer.Length == 0 ? ProbeReadable() : Libc.RecvNonBlocking(Socket.Fd, Buffer.Span);
        }
        catch (Exception ex)
        {
            // The caller's memory is gone (a disposed AlignedBuffer, an unmapped window): the receive fails with why.
            Socket.Readiness.ClearRead();
            DeliverError(ex);
            return;
        }

        if (result == -Errno.EAGAIN)
        {
            Socket.Readiness.WantRead(_onReadable);
            return;
        }

        Socket.Readiness.ClearRead();
        if (result >= 0)
        {
            Deliver(result);
        }
        else if (result == -Errno.EINTR)
        {
            TryReceive();
        }
        else
        {
            DeliverError(SocketErrors.Exception(-result));
        }
    }

    private int ProbeReadable() => Libc.PollReadable(Socket.Fd) ? 0 : -Errno.EAGAIN;
}
