using Aio.Interop;

namespace Aio.Net;

/// <summary>TCP_NODELAY on an fd, with failures as <see cref="System.Net.Sockets.SocketException"/> like .NET's <c>Socket.NoDelay</c>.</summary>
internal static class TcpNoDelay
{
    public static bool Get(int fd)
    {
        int rc = Libc.TryGetSockOptInt(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, out int value);
        return rc < 0 ? throw SocketErrors.Exception(-rc) : value != 0;
    }

    public static int Set(int fd, bool value)
    {
        int rc = Libc.SetSockOptInt(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, value ? 1 : 0);
        return rc < 0 ? throw SocketErrors.Exception(-rc) : 0;
    }
}
