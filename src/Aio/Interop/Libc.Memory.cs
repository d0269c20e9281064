using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>libc imports: memory mappings (the io_uring rings are shared with the kernel through mmap).</summary>
internal static unsafe partial class Libc
{
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_POPULATE = 0x8000;

    /// <summary>mmap's failure value, <c>(void*)-1</c>.</summary>
    public static readonly void* MAP_FAILED = (void*)-1;

    [LibraryImport(LibraryName, EntryPoint = "mmap", SetLastError = true)]
    public static partial void* MMap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(LibraryName, EntryPoint = "munmap", SetLastError = true)]
    public static partial int MUnmap(void* addr, nuint length);

    /// <summary>One byte per page of [addr, addr+length) (addr page-aligned): bit 0 set where the page is in memory.</summary>
    [LibraryImport(LibraryName, EntryPoint = "mincore", SetLastError = true)]
    public static partial int MInCore(void* addr, nuint length, byte* vec);
}
