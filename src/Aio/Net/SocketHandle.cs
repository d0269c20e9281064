using System.Runtime.InteropServices;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// Owns a socket fd and closes it with a plain close(2). (.NET's <see cref="System.Net.Sockets.SafeSocketHandle"/>,
/// disposed on its own, treats the close as abortive and resets the connection; an orderly close must send a FIN.)
/// </summary>
internal sealed class SocketHandle : SafeHandle
{
    public SocketHandle(int fd)
        : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>The fd number.</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle()
    {
        Libc.CloseQuietly((int)handle);
        return true;
    }
}
