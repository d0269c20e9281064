using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>The fixed 16-byte head of struct io_uring_probe; <see cref="IoUringProbeOp"/> entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringProbeHeader
{
    /// <summary>The last opcode this kernel knows.</summary>
    public byte LastOp;

    /// <summary>How many <see cref="IoUringProbeOp"/> entries the kernel filled.</summary>
    public byte OpsLen;
    public ushort Resv;
    public uint Resv2a;
    public uint Resv2b;
    public uint Resv2c;
}
