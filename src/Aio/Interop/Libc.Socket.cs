using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>libc socket calls for <c>Aio.Net</c>: creation, addresses, options and the non-blocking I/O of the fallback path.</summary>
internal static unsafe partial class Libc
{
    // sys/socket.h, netinet/in.h, netinet/tcp.h (identical on x86_64 and arm64).
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_ERROR = 4;
    public const int SO_LINGER = 13;
    public const int SO_REUSEPORT = 15;
    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_IPV6 = 41;
    public const int TCP_NODELAY = 1;
    public const int IPV6_V6ONLY = 26;
    public const int SHUT_RD = 0;
    public const int SHUT_WR = 1;
    public const int SHUT_RDWR = 2;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_MORE = 0x8000;

    /// <summary>IOV_MAX (UIO_MAXIOV): the most iovecs one sendmsg takes.</summary>
    public const int IOV_MAX = 1024;

    [LibraryImport(LibraryName, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(LibraryName, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* address, int length);

    [LibraryImport(LibraryName, EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport(LibraryName, EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, byte* address, int* length, int flags);

    [LibraryImport(LibraryName, EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, int length);

    [LibraryImport(LibraryName, EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, byte* address, int* length);

    [LibraryImport(LibraryName, EntryPoint = "getpeername", SetLastError = true)]
    public static partial int GetPeerName(int fd, byte* address, int* length);

    [LibraryImport(LibraryName, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport(LibraryName, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, int* length);

    [LibraryImport(LibraryName, EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport(LibraryName, EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, void* buffer, nuint length, int flags);

    [LibraryImport(LibraryName, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    /// <summary>setsockopt with an int value; returns 0 or -errno.</summary>
    public static int SetSockOptInt(int fd, int level, int name, int value)
        => SetSockOpt(fd, level, name, &value, sizeof(int)) == 0 ? 0 : -Errors.LastErrno;

    /// <summary>getsockopt with an int value; returns the value, or throws.</summary>
    public static int GetSockOptInt(int fd, int level, int name, string call)
    {
        int value = 0;
        int length = sizeof(int);
        Errors.Check(GetSockOpt(fd, level, name, &value, &length), call);
        return value;
    }

    /// <summary>getsockopt with an int value; returns 0 (the value in <paramref name="value"/>) or -errno.</summary>
    public static int TryGetSockOptInt(int fd, int level, int name, out int value)
    {
        int v = 0;
        int length = sizeof(int);
        int rc = GetSockOpt(fd, level, name, &v, &length) == 0 ? 0 : -Errors.LastErrno;
        value = v;
        return rc;
    }

    /// <summary>SO_LINGER {on, 0}: close() then resets the connection (RST) instead of a FIN.</summary>
    public static int SetLingerZero(int fd)
    {
        var linger = new Linger { OnOff = 1, Seconds = 0 };
        return SetSockOpt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(Linger)) == 0 ? 0 : -Errors.LastErrno;
    }

    /// <summary>bind(2) to the sockaddr bytes in <paramref name="address"/>; returns 0 or -errno.</summary>
    public static int Bind(int fd, ReadOnlySpan<byte> address)
    {
        fixed (byte* p = address)
        {
            return Bind(fd, p, address.Length) == 0 ? 0 : -Errors.LastErrno;
        }
    }

    /// <summary>connect(2) without waiting (the socket is non-blocking); returns 0 or -errno (-EINPROGRESS while connecting).</summary>
    public static int Connect(int fd, ReadOnlySpan<byte> address)
    {
        fixed (byte* p = address)
        {
            return Connect(fd, p, address.Length) == 0 ? 0 : -Errors.LastErrno;
        }
    }

    /// <summary>getsockname/getpeername into <paramref name="address"/>; returns the length, or -errno.</summary>
    public static int SocketName(int fd, Span<byte> address, bool peer)
    {
        int length = address.Length;
        fixed (byte* p = address)
        {
            int rc = peer ? GetPeerName(fd, p, &length) : GetSockName(fd, p, &length);
            return rc == 0 ? length : -Errors.LastErrno;
        }
    }

    /// <summary>accept4(2) with SOCK_NONBLOCK|SOCK_CLOEXEC, no address; returns the fd or -errno.</summary>
    public static int AcceptNonBlocking(int fd)
    {
        int rc = Accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
        return rc >= 0 ? rc : -Errors.LastErrno;
    }

    /// <summary>recv(2) with MSG_DONTWAIT into <paramref name="buffer"/>; returns the count or -errno.</summary>
    public static int RecvNonBlocking(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint rc = Recv(fd, p, (nuint)buffer.Length, MSG_DONTWAIT);
            return rc >= 0 ? (int)rc : -Errors.LastErrno;
        }
    }

    /// <summary>
    /// sendmsg(2) with MSG_DONTWAIT|MSG_NOSIGNAL and <paramref name="flags"/> over <paramref name="count"/> iovecs;
    /// returns the count or -errno.
    /// </summary>
    public static long SendNonBlocking(int fd, IoVec* iovecs, int count, int flags)
    {
        var message = new MsgHdr { Iov = iovecs, IovLen = (nuint)count };
        nint rc = SendMsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL | flags);
        return rc >= 0 ? rc : -Errors.LastErrno;
    }

    /// <summary>True if <paramref name="fd"/> is readable now (or has an error or hang-up to report): ppoll with a zero timeout.</summary>
    public static bool PollReadable(int fd)
    {
        var pfd = new NativePollFd { Fd = fd, Events = POLLIN };
        var zero = default(KernelTimespec);
        return PPoll(&pfd, 1, &zero, null) > 0;
    }
}
