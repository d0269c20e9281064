using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>libc imports for BlockFile's space management (BlockFile.Allocation.cs): SEEK_DATA/SEEK_HOLE, fallocate and fadvise.</summary>
internal static partial class Libc
{
    public const int SEEK_DATA = 3;
    public const int SEEK_HOLE = 4;
    public const int FALLOC_FL_KEEP_SIZE = 0x01;
    public const int FALLOC_FL_PUNCH_HOLE = 0x02;
    public const int FALLOC_FL_ZERO_RANGE = 0x10;
    public const int POSIX_FADV_WILLNEED = 3;
    public const int ENXIO = 6;

    [LibraryImport(LibraryName, EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport(LibraryName, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(int fd, int mode, long offset, long length);

    // Returns the error number (not -1/errno), like every posix_* call.
    [LibraryImport(LibraryName, EntryPoint = "posix_fadvise")]
    public static partial int PosixFAdvise(int fd, long offset, long length, int advice);
}
