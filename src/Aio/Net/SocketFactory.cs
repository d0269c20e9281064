using System.Net.Sockets;
using Aio.Interop;

namespace Aio.Net;

/// <summary>New non-blocking, close-on-exec stream sockets, owned by a <see cref="SocketHandle"/>.</summary>
internal static class SocketFactory
{
    /// <summary>socket(domain, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0).</summary>
    /// <exception cref="SocketException">The kernel refused (EMFILE: <see cref="SocketError.TooManyOpenSockets"/>, ...).</exception>
    public static SocketHandle Create(int domain)
    {
        int fd = Libc.Socket(domain, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw SocketErrors.Exception(Errors.LastErrno);
        }

        return new SocketHandle(fd);
    }

    /// <summary>Wraps an fd the kernel handed over (accept).</summary>
    public static SocketHandle Own(int fd) => new(fd);
}
