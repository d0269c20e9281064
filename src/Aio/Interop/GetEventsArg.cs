using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_uring_getevents_arg (24 bytes): the IORING_ENTER_EXT_ARG argument (5.11+).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GetEventsArg
{
    public ulong SigMask;
    public uint SigMaskSize;

    /// <summary>Was <c>pad</c> before 6.12 (must be 0 there); <c>min_wait_usec</c> since.</summary>
    public uint MinWaitUsec;

    /// <summary>Pointer to a <see cref="KernelTimespec"/>, or 0 for no timeout.</summary>
    public ulong Ts;
}
