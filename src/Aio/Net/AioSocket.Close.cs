using Aio.Interop;

namespace Aio.Net;

// Closing. close() does not cancel io_uring requests (the kernel holds its own file reference), so a socket
// closes in three steps on its loop: end the pending operations and cancel their kernel requests; wait until every
// completion that still references a buffer has arrived (multishot terminations included); then give the buffers
// back and close the fd. DisposeAsync completes only after the last step.
public sealed partial class AioSocket
{
    private const int Open = 0;
    private const int Disposing = 1;
    private const int Aborting = 2;

    private readonly LoopClose _close;

    // Set once Shutdown(Send or Both) succeeded: a close then stays orderly even with a send pending.
    private int _sendShutDown;

    internal bool IsDisposed => _close.Request != Open;

    /// <summary>
    /// Ends pending operations with <see cref="ObjectDisposedException"/>, waits until the kernel let go of every buffer,
    /// and closes the socket. The peer sees an orderly end of stream, unless a send was still pending and the send side
    /// had not been shut down (<see cref="Shutdown"/>): then, as with .NET's <c>Socket</c>, the connection is reset,
    /// so that the peer cannot take the part that arrived for the whole. Any thread; idempotent.
    /// </summary>
    public ValueTask DisposeAsync() => new(_close.RequestClose(Disposing));

    /// <summary>
    /// <see cref="DisposeAsync"/>'s close. Off the loops, on a socket whose loop an <see cref="IoThread"/> runs, it
    /// returns once the socket is closed; on a loop thread (where waiting could deadlock), or on a loop the caller runs
    /// itself, it starts the close and returns (the loop finishes it).
    /// </summary>
    public void Dispose() => _close.RequestCloseAndWaitWhereSafe(Disposing);

    /// <summary>
    /// Resets the connection (RST, through SO_LINGER 0) and closes; pending operations end with
    /// <see cref="System.Net.Sockets.SocketException"/>. After a Dispose whose close is still waiting for the kernel, the
    /// close resets instead of ending the stream (the operations already ended with <see cref="ObjectDisposedException"/>).
    /// </summary>
    public void Abort() => _ = _close.RequestClose(Aborting);

    private void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(nameof(AioSocket));
        }
    }

    /// <summary>
    /// Ends the pending operations with <paramref name="reason"/>: at close, and on the fallback path when the context
    /// that would have reported readiness is disposed.
    /// </summary>
    private void EndOperations(Exception reason)
    {
        _receive.BeginClose(reason);
        _send.BeginClose(reason);
    }

    private void CloseOnLoop()
    {
        Exception reason;
        if (_close.Request == Aborting)
        {
            _ = Libc.SetLingerZero(Fd);
            reason = SocketErrors.Aborted();
        }
        else
        {
            if ((_send.IsPending || _send.CutShort) && Volatile.Read(ref _sendShutDown) == 0)
            {
                // A send cut short by the close (or earlier by the context's teardown): an orderly end of stream after
                // part of the data would let the peer take what it got for all of it (an HTTP body ended by the close,
                // say). Reset, as .NET's Socket does when its Dispose cancels operations and the send side was not shut
                // down.
                _ = Libc.SetLingerZero(Fd);
            }

            reason = new ObjectDisposedException(nameof(AioSocket), "The socket was disposed with the operation pending.");
        }

        EndOperations(reason);
        _readiness?.Remove();
        TryFinishClose();
    }

    /// <summary>Loop thread: the last step, once the kernel holds nothing of this socket any more.</summary>
    internal void TryFinishClose()
    {
        if (!_receive.KernelIdle || !_send.KernelIdle || !_close.TryFinish())
        {
            return;
        }

        if (_close.Request != Aborting && _receive.HoldsUnreadData)
        {
            // Bytes the peer sent that nobody read: the multishot receive moved them out of the socket's queue into the
            // loop's buffers, where close(2) cannot see them. TCP answers a close that leaves data unread with a reset
            // (the readiness path does, as .NET's Socket does); so must this one, or the peer would take the data it
            // sent for received.
            _ = Libc.SetLingerZero(Fd);
        }

        _receive.Release();
        _send.Release();
        _receive.DisposeHandOver();
        _send.DisposeHandOver();
        // Flag, fence, then look: a Socket getter racing this either publishes its view before the look (disposed
        // here) or sees the flag after its publish (disposes it itself).
        Interlocked.Exchange(ref _viewClosed, 1);
        Volatile.Read(ref _view)?.Dispose();
        if (_close.Request == Aborting)
        {
            // Set by CloseOnLoop already, unless Abort came after a Dispose whose close was still waiting for the kernel.
            _ = Libc.SetLingerZero(Fd);
        }

        if (_adopted is not null)
        {
            _adopted.Dispose();
        }
        else
        {
            _handle.Dispose();
        }

        _close.Complete();
    }
}
