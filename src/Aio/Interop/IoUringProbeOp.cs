using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_uring_probe_op (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringProbeOp
{
    /// <summary>IO_URING_OP_SUPPORTED in <see cref="Flags"/>.</summary>
    public const ushort Supported = 1;

    public byte Op;
    public byte Resv;
    public ushort Flags;
    public uint Resv2;
}
