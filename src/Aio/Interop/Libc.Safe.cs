namespace Aio.Interop;

/// <summary>
/// Safe wrappers over the pointer-taking imports, for the layers that must not use <c>unsafe</c>. They return the raw
/// result (negative on failure, errno in <see cref="Errors.LastErrno"/>) unless the name says they throw.
/// </summary>
internal static unsafe partial class Libc
{
    /// <summary>Adds <paramref name="value"/> to an eventfd counter; retries EINTR. Returns 8, or -1 (EAGAIN when the counter would overflow).</summary>
    public static int EventFdWrite(int fd, ulong value)
    {
        var call = new ReadWriteCall(fd, &value, sizeof(ulong), write: true);
        return (int)Eintr.Retry(ref call);
    }

    /// <summary>Reads and resets an eventfd counter; retries EINTR. Returns 8, or -1 (EAGAIN when it was zero).</summary>
    public static int EventFdRead(int fd, out ulong value)
    {
        ulong v = 0;
        var call = new ReadWriteCall(fd, &v, sizeof(ulong), write: false);
        int rc = (int)Eintr.Retry(ref call);
        value = v;
        return rc;
    }

    /// <summary>read(2) into a span; retries EINTR.</summary>
    public static int ReadSpan(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            var call = new ReadWriteCall(fd, p, (nuint)buffer.Length, write: false);
            return (int)Eintr.Retry(ref call);
        }
    }

    /// <summary>write(2) from a span; retries EINTR.</summary>
    public static int WriteSpan(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            var call = new ReadWriteCall(fd, p, (nuint)buffer.Length, write: true);
            return (int)Eintr.Retry(ref call);
        }
    }

    /// <summary>pread(2) into a span; retries EINTR.</summary>
    public static long PReadSpan(int fd, Span<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
        {
            var call = new ReadWriteCall(fd, p, (nuint)buffer.Length, write: false, offset);
            return Eintr.Retry(ref call);
        }
    }

    /// <summary>pwrite(2) from a span; retries EINTR.</summary>
    public static long PWriteSpan(int fd, ReadOnlySpan<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
        {
            var call = new ReadWriteCall(fd, p, (nuint)buffer.Length, write: true, offset);
            return Eintr.Retry(ref call);
        }
    }

    /// <summary>pipe2(2) with O_CLOEXEC and the given extra flags; throws <see cref="AioException"/>.</summary>
    public static (int ReadFd, int WriteFd) CreatePipe(int flags = O_NONBLOCK)
    {
        int* fds = stackalloc int[2];
        Errors.Check(Pipe2(fds, flags | O_CLOEXEC), "pipe2");
        return (fds[0], fds[1]);
    }

    /// <summary>socketpair(AF_UNIX, SOCK_STREAM) with close-on-exec and non-blocking ends; throws <see cref="AioException"/>.</summary>
    public static (int A, int B) CreateSocketPair()
    {
        int* fds = stackalloc int[2];
        Errors.Check(SocketPair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), "socketpair");
        return (fds[0], fds[1]);
    }

    /// <summary>stx_size and stx_mode of an open file; throws <see cref="AioException"/>.</summary>
    public static (long Size, uint Mode) FileSizeAndMode(int fd)
    {
        byte* buffer = stackalloc byte[StatxSize];
        Errors.Check(StatxOfFd(fd, STATX_TYPE | STATX_MODE | STATX_SIZE, buffer), "statx");
        return ((long)*(ulong*)(buffer + StatxSizeOffset), *(ushort*)(buffer + StatxModeOffset));
    }

    /// <summary>stx_uid of an open file; throws <see cref="AioException"/>.</summary>
    public static uint FileOwner(int fd)
    {
        byte* buffer = stackalloc byte[StatxSize];
        Errors.Check(StatxOfFd(fd, STATX_UID, buffer), "statx");
        return *(uint*)(buffer + StatxUidOffset);
    }

    /// <summary>
    /// The device (major and minor, packed) and inode of the file <paramref name="fd"/> names: two fds name the same
    /// file exactly when both agree. Returns 0, or -1 with errno (EBADF for a closed fd).
    /// </summary>
    public static int FileIdentity(int fd, out ulong device, out ulong inode)
    {
        byte* buffer = stackalloc byte[StatxSize];
        int rc = StatxOfFd(fd, STATX_INO, buffer);
        device = rc == 0 ? ((ulong)*(uint*)(buffer + StatxDevMajorOffset) << 32) | *(uint*)(buffer + StatxDevMinorOffset) : 0;
        inode = rc == 0 ? *(ulong*)(buffer + StatxInoOffset) : 0;
        return rc;
    }

    /// <summary>
    /// The device number (stx_rdev_major and stx_rdev_minor) of a block device; null for anything else. Throws
    /// <see cref="AioException"/>.
    /// </summary>
    public static (uint Major, uint Minor)? BlockDeviceNumber(int fd)
    {
        byte* buffer = stackalloc byte[StatxSize];
        Errors.Check(StatxOfFd(fd, STATX_TYPE, buffer), "statx");
        uint mode = *(ushort*)(buffer + StatxModeOffset);
        if ((mode & S_IFMT) != S_IFBLK)
        {
            return null;
        }

        return (*(uint*)(buffer + StatxRdevMajorOffset), *(uint*)(buffer + StatxRdevMinorOffset));
    }

    /// <summary>CPU time of this thread (<paramref name="who"/> = RUSAGE_THREAD) or process, in microseconds; throws <see cref="AioException"/>.</summary>
    public static (long UserUs, long SystemUs) CpuTime(int who)
    {
        RUsage usage;
        Errors.Check(GetRUsage(who, &usage), "getrusage");
        return ((usage.UserSeconds * 1_000_000) + usage.UserMicroseconds, (usage.SystemSeconds * 1_000_000) + usage.SystemMicroseconds);
    }

    /// <summary>ppoll(2) on one fd with a nanosecond timeout (negative: none), EINTR retried; returns the revents, 0 on timeout, -1 on error.</summary>
    public static int PollOne(int fd, short events, long timeoutNs)
    {
        var pfd = new NativePollFd { Fd = fd, Events = events };
        var call = new PPollCall(&pfd, 1);
        int rc = (int)Eintr.Retry(ref call, timeoutNs);
        return rc > 0 ? pfd.REvents : rc;
    }

    /// <summary>read/write/pread/pwrite(2) for <see cref="Eintr"/>: a negative offset means the file position.</summary>
    private readonly struct ReadWriteCall(int fd, void* buffer, nuint count, bool write, long offset = -1) : IInterruptibleCall
    {
        public long Invoke(long timeoutNs) => (write, offset >= 0) switch
        {
            (false, false) => Read(fd, buffer, count),
            (true, false) => Write(fd, buffer, count),
            (false, true) => PRead(fd, buffer, count, offset),
            (true, true) => PWrite(fd, buffer, count, offset),
        };
    }

    /// <summary>ppoll(2) for <see cref="Eintr"/>: each attempt gets the time left.</summary>
    private readonly struct PPollCall(NativePollFd* fds, nuint count) : IInterruptibleCall
    {
        public long Invoke(long timeoutNs)
        {
            var ts = KernelTimespec.FromNanoseconds(Math.Max(0, timeoutNs));
            return PPoll(fds, count, timeoutNs < 0 ? null : &ts, null);
        }
    }
}
