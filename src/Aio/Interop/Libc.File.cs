using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// libc imports for files: statx (direct-I/O alignment, identity, size, mode, owner; not fstat, which glibc exports as a
/// symbol only from 2.33 on) and the block-device size ioctl.
/// </summary>
internal static unsafe partial class Libc
{
    public const int AT_FDCWD = -100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_DIOALIGN = 0x2000;          // 6.1
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_UID = 0x8;
    public const uint STATX_INO = 0x100;
    public const uint STATX_SIZE = 0x200;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const ulong BLKGETSIZE64 = 0x80081272;       // _IOR(0x12, 114, size_t)
    public const uint S_IFMT = 0xF000;
    public const uint S_IFBLK = 0x6000;

    // struct statx offsets (include/uapi/linux/stat.h).
    public const int StatxMaskOffset = 0;
    public const int StatxUidOffset = 20;
    public const int StatxModeOffset = 28;
    public const int StatxInoOffset = 32;
    public const int StatxSizeOffset = 40;
    public const int StatxRdevMajorOffset = 128;
    public const int StatxRdevMinorOffset = 132;
    public const int StatxDevMajorOffset = 136;
    public const int StatxDevMinorOffset = 140;
    public const int StatxDioMemAlignOffset = 152;
    public const int StatxDioOffsetAlignOffset = 156;
    public const int StatxSize = 256;

    [LibraryImport(LibraryName, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>statx of an open fd (AT_EMPTY_PATH): fstat's answers, from the call every glibc since 2.28 exports.</summary>
    private static int StatxOfFd(int fd, uint mask, byte* buffer) => Statx(fd, string.Empty, AT_EMPTY_PATH, mask, buffer);

    [LibraryImport(LibraryName, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, ulong request, ulong* arg);

    /// <summary>
    /// The O_DIRECT alignments the kernel reports for <paramref name="fd"/> (statx STATX_DIOALIGN): of the buffer's
    /// address (<c>stx_dio_mem_align</c>) and of the file offset and length (<c>stx_dio_offset_align</c>); (0, 0) if
    /// unknown. They differ: a device with 8 KiB logical blocks wants offsets in 8 KiB but buffers in 512 bytes.
    /// </summary>
    public static (int Memory, int Offset) DirectIoAlignment(int fd)
    {
        byte* buffer = stackalloc byte[StatxSize];
        new Span<byte>(buffer, StatxSize).Clear();
        if (Statx(fd, string.Empty, AT_EMPTY_PATH, STATX_DIOALIGN, buffer) != 0 || (*(uint*)(buffer + StatxMaskOffset) & STATX_DIOALIGN) == 0)
        {
            return (0, 0);
        }

        return ((int)*(uint*)(buffer + StatxDioMemAlignOffset), (int)*(uint*)(buffer + StatxDioOffsetAlignOffset));
    }

    /// <summary>
    /// What <paramref name="path"/> itself is (not a symbolic link's target): its device and inode numbers, or null when
    /// nothing is there or statx cannot say.
    /// </summary>
    public static (uint DevMajor, uint DevMinor, ulong Inode)? FileIdentity(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        new Span<byte>(buffer, StatxSize).Clear();
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO, buffer) != 0 || (*(uint*)(buffer + StatxMaskOffset) & STATX_INO) == 0)
        {
            return null;
        }

        return (*(uint*)(buffer + StatxDevMajorOffset), *(uint*)(buffer + StatxDevMinorOffset), *(ulong*)(buffer + StatxInoOffset));
    }

    /// <summary>Size in bytes of a regular file or a block device; throws <see cref="AioException"/>.</summary>
    public static long FileOrDeviceSize(int fd)
    {
        var (size, mode) = FileSizeAndMode(fd);
        if ((mode & S_IFMT) != S_IFBLK)
        {
            return size;
        }

        ulong bytes;
        Errors.Check(Ioctl(fd, BLKGETSIZE64, &bytes), "ioctl(BLKGETSIZE64)");
        return (long)bytes;
    }
}
