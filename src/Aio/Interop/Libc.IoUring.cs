using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// The three io_uring system calls. glibc has no wrappers, so they go through syscall(2); the numbers
/// come from the generic syscall table, which x86_64 (since 5.1) and arm64 share: 425, 426, 427.
/// </summary>
internal static unsafe partial class Libc
{
    public const long SYS_io_uring_setup = 425;
    public const long SYS_io_uring_enter = 426;
    public const long SYS_io_uring_register = 427;

    // syscall(2) is variadic in C. Declaring fixed long arguments is safe on x86_64 (the kernel-call
    // stub reads integer registers only, never %al's vector count) and on arm64 Linux (AAPCS64 passes
    // variadic integer arguments in x0-x7 exactly like fixed ones).
    [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    /// <summary>A three-argument syscall(2), for calls glibc does not wrap (seccomp).</summary>
    public static long Syscall3(long number, nint a1, nint a2, nint a3) => Syscall(number, a1, a2, a3, 0, 0, 0);

    /// <summary>io_uring_setup(2): returns the ring fd or -1 with errno.</summary>
    public static int IoUringSetup(uint entries, IoUringParams* p)
        => (int)Syscall(SYS_io_uring_setup, (nint)entries, (nint)p, 0, 0, 0, 0);

    /// <summary>io_uring_enter(2) with the extended argument form (<paramref name="arg"/>, <paramref name="argSize"/>).</summary>
    public static int IoUringEnter(int fd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize)
        => (int)Syscall(SYS_io_uring_enter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, (nint)arg, (nint)argSize);

    /// <summary>io_uring_register(2).</summary>
    public static int IoUringRegister(int fd, uint opcode, void* arg, uint count)
        => (int)Syscall(SYS_io_uring_register, fd, (nint)opcode, (nint)arg, (nint)count, 0, 0);
}
