using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Aio.Async;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// connect(2) on the loop: IORING_OP_CONNECT on the ring (the kernel waits for the handshake), or a non-blocking
/// connect followed by a wait for writability and SO_ERROR on the fallback path.
/// </summary>
internal static class SocketConnector
{
    private static readonly SqePreparer<(int Fd, nint Address, int Length)> s_prepare =
        static (ref Sqe sqe, (int Fd, nint Address, int Length) s) => sqe.PrepConnect(s.Fd, s.Address, (uint)s.Length);

    public static async ValueTask ConnectAsync(AioContext context, SocketHandle handle, byte[] address, CancellationToken ct)
    {
        int fd = handle.Fd;
        int result;
        if (context.SocketsUseRing)
        {
            // The kernel copies the address when it prepares the request; it stays pinned until the completion anyway.
            using var pin = address.AsMemory().Pin();
            result = await context.SubmitAsync(s_prepare, (fd, pin.Address(), address.Length), ct).ConfigureAwait(false);
        }
        else
        {
            result = Libc.Connect(fd, address);
            if (result == -115)   // -EINPROGRESS
            {
                result = await WaitConnectedAsync(context, fd, ct).ConfigureAwait(false);
            }
        }

        if (result == -Errno.ECANCELED)
        {
            ct.ThrowIfCancellationRequested();
        }

        if (result < 0)
        {
            throw SocketErrors.Exception(-result);
        }
    }

    private static async Task<int> WaitConnectedAsync(AioContext context, int fd, CancellationToken ct)
    {
        var writable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new StrongBox<bool>();
        context.WatchConnect(writable);
        try
        {
            // Removed on the loop as soon as it fires: the fd stays writable, and a level-triggered handler left in
            // place would run again every iteration until the continuation (on the pool) removed it. Not once the
            // wait has ended (cancelled on another thread): the caller may have closed the fd by then, and its
            // number may already carry another socket's handler.
            context.SetFdHandler(fd, null, () =>
            {
                lock (ended)
                {
                    if (!ended.Value)
                    {
                        context.RemoveFdHandler(fd);
                    }
                }

                writable.TrySetResult();
            });
            await writable.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            lock (ended)
            {
                ended.Value = true;
            }

            context.ForgetConnect(writable);
            try
            {
                context.RemoveFdHandler(fd);
            }
            catch (ObjectDisposedException)
            {
            }
        }

        int error = Libc.GetSockOptInt(fd, Libc.SOL_SOCKET, Libc.SO_ERROR, "getsockopt(SO_ERROR)");
        return -error;
    }
}
