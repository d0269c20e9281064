using System.Runtime.InteropServices;

namespace Aio.Nbd.Interop;

/// <summary>
/// The type of file a path names (stat's S_IFMT bits), learnt without opening it: open(2) of a named pipe waits for
/// a writer, for ever. .NET has no API for it (FileAttributes does not tell a FIFO or a device from a file).
/// </summary>
internal static class FileType
{
    public const uint Directory = 0x4000;
    public const uint BlockDevice = 0x6000;
    public const uint Regular = 0x8000;
    public const uint Socket = 0xC000;

    public const int ENOENT = 2;
    public const int ENOTDIR = 20;

    private const uint TypeMask = 0xF000;
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;

    // struct statx (include/uapi/linux/stat.h): stx_mask at 0, stx_mode (16 bits) at 28; 256 bytes in all.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;

    /// <summary>The S_IFMT bits of what <paramref name="path"/> names (symbolic links followed), or null and the errno if statx failed.</summary>
    public static uint? Of(string path, out int errno) => Of(path, followLinks: true, out errno);

    /// <summary>The S_IFMT bits of <paramref name="path"/> itself (a symbolic link is reported as one, lstat), or null and the errno.</summary>
    public static uint? OfEntry(string path, out int errno) => Of(path, followLinks: false, out errno);

    private static uint? Of(string path, bool followLinks, out int errno)
    {
        var buffer = new byte[StatxSize];
        if (Statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        errno = 0;
        if ((BitConverter.ToUInt32(buffer, 0) & StatxType) == 0)
        {
            // The kernel did not fill in the type (it always does; this only keeps a zeroed buffer from reading as one).
            return null;
        }

        return BitConverter.ToUInt16(buffer, StatxModeOffset) & TypeMask;
    }

    // A byte[] rather than a pointer: no unsafe code outside the core's Interop (the array is pinned for the call, so the kernel's
    // writes land in it).
    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);
}
