using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_uring_params (120 bytes): in/out argument of io_uring_setup(2).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;
    public uint Features;
    public uint WqFd;
    public uint Resv0;
    public uint Resv1;
    public uint Resv2;
    public SqRingOffsets SqOff;
    public CqRingOffsets CqOff;
}
