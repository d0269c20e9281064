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

    internal bool IsDisposed => _close.Request != Open;

    /// <summary>
    /// Ends pending operations with <see cref="ObjectDisposedException"/>, waits until the kernel let go of every buffer,
    /// and closes the socket (the peer sees an orderly end of stream). Any thread; idempotent.
    /// </summary>
    public ValueTask DisposeAsync() => new(_close.RequestClose(Disposing));

    /// <summary>
    /// <see cref="DisposeAsync"/>'s close. Off the loops, on a socket whose loop an <see cref="IoThread"/> runs, it
    /// returns once the socket is closed; on a loop thread (where waiting could deadlock), or on a loop the caller runs
    /// itself, it starts the close and returns (the loop finishes it).
    /// </summary>
    public void Dispose() => _close.RequestCloseAndWaitWhereSafe(Disposing);

    /// <summary>Resets the connection (RST, through SO_LINGER 0) and closes; pending operations end with <see cref="System.Net.Sockets.SocketException"/>.</summary>
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

        _receive.Release();
        _send.Release();
        _receive.DisposeHandOver();
        _send.DisposeHandOver();
        // Flag, fence, then look: a Socket getter racing this either publishes its view before the look (disposed
        // here) or sees the flag after its publish (disposes it itself).
        Interlocked.Exchange(ref _viewClosed, 1);
        Volatile.Read(ref _view)?.Dispose();
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
