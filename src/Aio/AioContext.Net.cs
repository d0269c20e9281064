using System.Collections.Concurrent;
using Aio.Net;
using Aio.Uring;

namespace Aio;

// What the socket layer (Aio.Net) keeps per context.
public sealed partial class AioContext
{
    // What the sockets submit on the ring: ACCEPT (5.5), CONNECT, RECV, SEND (5.6), SENDMSG, ASYNC_CANCEL.
    private static readonly IoUringOpcode[] s_socketOpcodes =
        [IoUringOpcode.Accept, IoUringOpcode.Connect, IoUringOpcode.Recv, IoUringOpcode.Send, IoUringOpcode.SendMsg, IoUringOpcode.AsyncCancel];

    private NetLoop? _netLoop;

    // Fallback connects waiting for writability through an fd handler (any thread registers): Dispose drops every
    // handler without calling it, so it ends these waits itself, as it ends the sockets' own readiness waits.
    private readonly ConcurrentDictionary<TaskCompletionSource, byte> _connectWaits = new();

    /// <summary>The sockets' shared state on this loop (loop thread).</summary>
    internal NetLoop NetLoop => _netLoop ??= new NetLoop(this);

    /// <summary>
    /// True when this context's sockets (<see cref="Net.AioSocket"/>, <see cref="Net.AioListener"/>) run on its ring:
    /// io_uring whose probe reports every operation they submit (ACCEPT, CONNECT, RECV, SEND, SENDMSG, ASYNC_CANCEL:
    /// Linux 5.6+). Otherwise they use non-blocking system calls on readiness, which works on every monitor (on the
    /// ring through its POLL_ADD), more slowly.
    /// </summary>
    public bool SocketsUseRing { get; }

    /// <summary>See <see cref="AioContextOptions.SocketIoDontWait"/> (tests only).</summary>
    internal bool SocketIoDontWait { get; }

    /// <summary>Whether <paramref name="ring"/> supports every operation the sockets submit (a ring swap keeps the kernel, so once).</summary>
    private static bool RunsSockets(Ring? ring) => ring is not null && Array.TrueForAll(s_socketOpcodes, ring.Supports);

    /// <summary>The ring the sockets' buffer ring registers with; null without io_uring.</summary>
    internal Ring? RingForNet => _requests?.Ring;

    /// <summary>A fallback connect waits on <paramref name="wait"/>: it fails with ObjectDisposedException if this context goes.</summary>
    internal void WatchConnect(TaskCompletionSource wait)
    {
        _connectWaits.TryAdd(wait, 0);
        if (IsDisposed)
        {
            // Disposed before or while this was added: the teardown may have run its pass already.
            EndConnectWaits();
        }
    }

    /// <summary>The connect no longer waits.</summary>
    internal void ForgetConnect(TaskCompletionSource wait) => _connectWaits.TryRemove(wait, out _);

    private void EndConnectWaits()
    {
        foreach (var wait in _connectWaits.Keys)
        {
            if (_connectWaits.TryRemove(wait, out _))
            {
                wait.TrySetException(new ObjectDisposedException(nameof(AioContext), "The socket's AioContext was disposed with the connect pending."));
            }
        }
    }

    /// <summary>Called by Dispose after in-flight requests were cancelled or abandoned.</summary>
    private void DisposeNet()
    {
        EndConnectWaits();
        _netLoop?.Dispose();
        _netLoop = null;
    }
}
