using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>libc imports: poll(2) and epoll(7).</summary>
internal static unsafe partial class Libc
{
    // asm-generic/poll.h
    public const short POLLIN = 0x1;
    public const short POLLPRI = 0x2;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    // sys/epoll.h
    public const int EPOLL_CLOEXEC = O_CLOEXEC;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    [LibraryImport(LibraryName, EntryPoint = "ppoll", SetLastError = true)]
    public static partial int PPoll(NativePollFd* fds, nuint nfds, KernelTimespec* timeout, void* sigmask);

    [LibraryImport(LibraryName, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    /// <summary>epoll_ctl(2). <paramref name="ev"/> points at <see cref="EpollEvent.Size"/> bytes laid out per <see cref="EpollEvent"/>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(LibraryName, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, byte* events, int maxEvents, int timeoutMs);
}
