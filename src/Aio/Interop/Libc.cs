using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// libc imports: file descriptors and plain I/O. Every import sets the last P/Invoke error so that
/// <see cref="Errors"/> can read errno; callers retry EINTR where the call may block.
/// </summary>
internal static unsafe partial class Libc
{
    private const string LibraryName = "libc";

    // fcntl.h / asm-generic/fcntl.h (x86_64 and arm64 agree on these, except O_DIRECT).
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_TRUNC = 0x200;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    /// <summary>O_DIRECT: 0x4000 on x86_64, 0x10000 on arm64 (asm/fcntl.h differs per architecture).</summary>
    public static int O_DIRECT => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x10000 : 0x4000;

    // sys/eventfd.h
    public const int EFD_NONBLOCK = O_NONBLOCK;
    public const int EFD_CLOEXEC = O_CLOEXEC;

    // sys/socket.h
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = O_NONBLOCK;
    public const int SOCK_CLOEXEC = O_CLOEXEC;

    // sys/prctl.h
    public const int PR_SET_NAME = 15;
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_SET_SECCOMP = 22;

    // signal.h
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    // sys/resource.h
    public const int RUSAGE_SELF = 0;
    public const int RUSAGE_THREAD = 1;

    [LibraryImport(LibraryName, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, void* buffer, nuint count, long offset);

    [LibraryImport(LibraryName, EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint PWrite(int fd, void* buffer, nuint count, long offset);

    [LibraryImport(LibraryName, EntryPoint = "preadv", SetLastError = true)]
    public static partial nint PReadV(int fd, IoVec* iov, int iovcnt, long offset);

    [LibraryImport(LibraryName, EntryPoint = "pwritev", SetLastError = true)]
    public static partial nint PWriteV(int fd, IoVec* iov, int iovcnt, long offset);

    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(LibraryName, EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport(LibraryName, EntryPoint = "dup3", SetLastError = true)]
    public static partial int Dup3(int oldFd, int newFd, int flags);

    [LibraryImport(LibraryName, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport(LibraryName, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport(LibraryName, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(LibraryName, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(LibraryName, EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(int fd);

    [LibraryImport(LibraryName, EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int FDataSync(int fd);

    [LibraryImport(LibraryName, EntryPoint = "prctl", SetLastError = true)]
    public static partial int PrCtl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(LibraryName, EntryPoint = "getrusage", SetLastError = true)]
    public static partial int GetRUsage(int who, RUsage* usage);

    [LibraryImport(LibraryName, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(LibraryName, EntryPoint = "gettid")]
    public static partial int GetTid();

    [LibraryImport(LibraryName, EntryPoint = "geteuid")]
    public static partial uint GetEUid();

    /// <summary>Closes <paramref name="fd"/> and ignores the result: close(2) must not be retried on EINTR on Linux.</summary>
    public static void CloseQuietly(int fd)
    {
        if (fd >= 0)
        {
            _ = Close(fd);
        }
    }
}
