namespace Aio.Interop;

/// <summary>Safe wrappers for the poll and epoll monitors.</summary>
internal static unsafe partial class Libc
{
    // sys/fcntl.h
    public const int F_GETFD = 1;

    [System.Runtime.InteropServices.LibraryImport(LibraryName, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, nint arg);

    /// <summary>True if <paramref name="fd"/> is an open descriptor (fcntl F_GETFD does not fail with EBADF).</summary>
    public static bool IsValidFd(int fd) => fd >= 0 && Fcntl(fd, F_GETFD, 0) >= 0;

    /// <summary>
    /// ppoll(2) over the first <paramref name="count"/> entries of <paramref name="fds"/>; negative timeout: none.
    /// EINTR (the runtime suspends threads with signals) is retried with the time left, so a wait never ends early.
    /// </summary>
    public static int PPollArray(NativePollFd[] fds, int count, long timeoutNs)
    {
        fixed (NativePollFd* p = fds)
        {
            var call = new PPollCall(p, (nuint)count);
            return (int)Eintr.Retry(ref call, timeoutNs);
        }
    }

    /// <summary>epoll_ctl(2) with a native event built from <paramref name="events"/> and <paramref name="data"/> (default: the fd).</summary>
    public static int EpollCtlFd(int epfd, int op, int fd, uint events, ulong? data = null)
    {
        byte* ev = stackalloc byte[16];
        EpollEvent.Write(ev, events, data ?? (uint)fd);
        return EpollCtl(epfd, op, fd, ev);
    }

    /// <summary>
    /// epoll_wait(2) into <paramref name="buffer"/> (room for <c>buffer.Length / EpollEvent.Size</c> events), with a
    /// timeout of 0 or -1 (positive timeouts are waited for with <see cref="PollOne"/>). EINTR is retried.
    /// </summary>
    public static int EpollWaitInto(int epfd, byte[] buffer, int timeoutMs)
    {
        fixed (byte* p = buffer)
        {
            var call = new EpollWaitCall(epfd, p, buffer.Length / EpollEvent.Size);
            return (int)Eintr.Retry(ref call, timeoutMs < 0 ? -1 : timeoutMs * 1_000_000L);
        }
    }

    /// <summary>The events and the data of entry <paramref name="index"/> in an epoll_wait buffer.</summary>
    public static (uint Events, ulong Data) EpollEntry(byte[] buffer, int index)
    {
        fixed (byte* p = buffer)
        {
            return (EpollEvent.ReadEvents(p, index), EpollEvent.ReadData(p, index));
        }
    }

    /// <summary>epoll_wait(2) for <see cref="Eintr"/>, in whole milliseconds rounded up (its unit).</summary>
    private readonly struct EpollWaitCall(int epfd, byte* events, int maxEvents) : IInterruptibleCall
    {
        public long Invoke(long timeoutNs)
            => EpollWait(epfd, events, maxEvents, timeoutNs < 0 ? -1 : (int)Math.Min(int.MaxValue, (timeoutNs + 999_999) / 1_000_000));
    }
}
