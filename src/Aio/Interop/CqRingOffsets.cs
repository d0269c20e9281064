using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_cqring_offsets (40 bytes): where each CQ ring field lives inside the CQ mapping.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CqRingOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Overflow;
    public uint Cqes;
    public uint Flags;
    public uint Resv1;
    public ulong UserAddr;
}
