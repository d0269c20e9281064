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
        long deadline = timeoutNs > 0 ? MonotonicClock.Ns + timeoutNs : 0;
        fixed (NativePollFd* p = fds)
        {
            while (true)
            {
                var ts = KernelTimespec.FromNanoseconds(Math.Max(0, timeoutNs));
                int rc = PPoll(p, (nuint)count, timeoutNs < 0 ? null : &ts, null);
                if (rc >= 0 || Errors.LastErrno != Errno.EINTR)
                {
                    return rc;
                }

                if (timeoutNs > 0)
                {
                    timeoutNs = Math.Max(0, deadline - (MonotonicClock.Ns));
                }
            }
        }
    }

    /// <summary>epoll_ctl(2) with a native event built from <paramref name="events"/> and the fd as data.</summary>
    public static int EpollCtlFd(int epfd, int op, int fd, uint events)
    {
        byte* ev = stackalloc byte[16];
        EpollEvent.Write(ev, events, (ulong)(uint)fd);
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
            while (true)
            {
                int rc = EpollWait(epfd, p, buffer.Length / EpollEvent.Size, timeoutMs);
                if (rc >= 0 || Errors.LastErrno != Errno.EINTR)
                {
                    return rc;
                }
            }
        }
    }

    /// <summary>The events and the fd (data) of entry <paramref name="index"/> in an epoll_wait buffer.</summary>
    public static (uint Events, int Fd) EpollEntry(byte[] buffer, int index)
    {
        fixed (byte* p = buffer)
        {
            return (EpollEvent.ReadEvents(p, index), (int)EpollEvent.ReadData(p, index));
        }
    }
}
