using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// Installs a seccomp filter that makes io_uring_setup fail with EPERM, as Docker's default profile does. For the
/// fallback tests (in a child process) and <c>aio probe --deny-io-uring</c>; a process cannot undo it.
/// </summary>
internal static unsafe class Seccomp
{
    // linux/filter.h, linux/seccomp.h, linux/audit.h.
    private const ushort BpfLdWAbs = 0x20;      // BPF_LD | BPF_W | BPF_ABS
    private const ushort BpfJmpJeqK = 0x15;     // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort BpfRetK = 0x06;        // BPF_RET | BPF_K
    private const uint SeccompRetAllow = 0x7fff0000;
    private const uint SeccompRetErrno = 0x00050000;
    private const uint AuditArchX8664 = 0xC000003E;
    private const uint AuditArchAarch64 = 0xC00000B7;
    private const uint SeccompSetModeFilter = 1;
    private const uint SeccompFilterFlagTsync = 1;

    /// <summary>Makes io_uring_setup return EPERM for every thread of this process from now on.</summary>
    public static void DenyIoUringSetup()
    {
        bool arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
        uint arch = arm ? AuditArchAarch64 : AuditArchX8664;
        long seccompNr = arm ? 277 : 317;

        // seccomp_data: nr at offset 0, arch at offset 4.
        SockFilter* prog = stackalloc SockFilter[6];
        prog[0] = new SockFilter(BpfLdWAbs, 0, 0, 4);
        prog[1] = new SockFilter(BpfJmpJeqK, 0, 3, arch);                        // other arch: allow
        prog[2] = new SockFilter(BpfLdWAbs, 0, 0, 0);
        prog[3] = new SockFilter(BpfJmpJeqK, 0, 1, (uint)Libc.SYS_io_uring_setup);
        prog[4] = new SockFilter(BpfRetK, 0, 0, SeccompRetErrno | Errno.EPERM);
        prog[5] = new SockFilter(BpfRetK, 0, 0, SeccompRetAllow);
        var fprog = new SockFprog { Length = 6, Filter = prog };

        Errors.Check(Libc.PrCtl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        Errors.Check(Libc.Syscall3(seccompNr, (nint)SeccompSetModeFilter, (nint)SeccompFilterFlagTsync, (nint)(&fprog)), "seccomp(SET_MODE_FILTER, TSYNC)");
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct SockFilter(ushort code, byte jt, byte jf, uint k)
    {
        public readonly ushort Code = code;
        public readonly byte Jt = jt;
        public readonly byte Jf = jf;
        public readonly uint K = k;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }
}
