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

    /// <summary>fstat(2)'s number: 5 on x86_64; 80 in the generic table arm64 uses.</summary>
    public static long SYS_fstat => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 80 : 5;

    /// <summary>
    /// statx of an open fd (AT_EMPTY_PATH): fstat's answers, from the call every glibc since 2.28 exports. Where a
    /// sandbox refuses statx itself (EPERM or ENOSYS from a seccomp profile older than the call), the fstat system call
    /// answers instead, its fields put where statx has them (the ones this class reads).
    /// </summary>
    private static int StatxOfFd(int fd, uint mask, byte* buffer)
    {
        int rc = Statx(fd, string.Empty, AT_EMPTY_PATH, mask, buffer);
        if (rc == 0)
        {
            return 0;
        }

        int errno = Errors.LastErrno;
        if (errno is not (Errno.EPERM or Errno.ENOSYS))
        {
            return rc;
        }

        byte* stat = stackalloc byte[StatSize];
        if (Syscall3(SYS_fstat, fd, (nint)stat, 0) != 0)
        {
            return -1;
        }

        StatToStatx(stat, buffer);
        return 0;
    }

    /// <summary>
    /// For tests: the fields the fallback reads for <paramref name="fd"/> (fstat(2), converted), as the statx path gives
    /// them (device packed as <see cref="FileIdentity(int, out ulong, out ulong)"/> packs it). Throws <see cref="AioException"/>.
    /// </summary>
    internal static (long Size, uint Mode, uint Owner, ulong Inode, ulong Device) FieldsThroughFstat(int fd)
    {
        byte* stat = stackalloc byte[StatSize];
        Errors.Check((int)Syscall3(SYS_fstat, fd, (nint)stat, 0), "fstat");
        byte* statx = stackalloc byte[StatxSize];
        StatToStatx(stat, statx);
        ulong device = ((ulong)*(uint*)(statx + StatxDevMajorOffset) << 32) | *(uint*)(statx + StatxDevMinorOffset);
        return ((long)*(ulong*)(statx + StatxSizeOffset), *(ushort*)(statx + StatxModeOffset), *(uint*)(statx + StatxUidOffset), *(ulong*)(statx + StatxInoOffset), device);
    }

    // struct stat (asm/stat.h on x86_64; asm-generic/stat.h, which arm64 uses): the fields the fallback copies.
    private const int StatSize = 144;

    /// <summary>Copies the device, inode, mode, owner, size and device number of a struct stat into a statx buffer.</summary>
    private static void StatToStatx(byte* stat, byte* statx)
    {
        bool arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
        new Span<byte>(statx, StatxSize).Clear();
        ulong dev = *(ulong*)stat;
        ulong rdev = *(ulong*)(stat + (arm ? 32 : 40));
        *(uint*)(statx + StatxMaskOffset) = STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO | STATX_SIZE;
        *(uint*)(statx + StatxUidOffset) = *(uint*)(stat + (arm ? 24 : 28));
        *(ushort*)(statx + StatxModeOffset) = (ushort)*(uint*)(stat + (arm ? 16 : 24));
        *(ulong*)(statx + StatxInoOffset) = *(ulong*)(stat + 8);
        *(ulong*)(statx + StatxSizeOffset) = *(ulong*)(stat + 48);
        *(uint*)(statx + StatxRdevMajorOffset) = Major(rdev);
        *(uint*)(statx + StatxRdevMinorOffset) = Minor(rdev);
        *(uint*)(statx + StatxDevMajorOffset) = Major(dev);
        *(uint*)(statx + StatxDevMinorOffset) = Minor(dev);

        // The kernel's dev_t encoding, as glibc's major() and minor() read it.
        static uint Major(ulong d) => (uint)(((d >> 8) & 0xfff) | ((d >> 32) & 0xfffff000));
        static uint Minor(ulong d) => (uint)((d & 0xff) | ((d >> 12) & 0xffffff00));
    }

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
