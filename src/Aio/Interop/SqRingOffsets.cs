using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_sqring_offsets (40 bytes): where each SQ ring field lives inside the SQ mapping.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SqRingOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Flags;
    public uint Dropped;
    public uint Array;
    public uint Resv1;
    public ulong UserAddr;
}
