using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_uring_rsrc_update (16 bytes): the IORING_REGISTER_RING_FDS argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RsrcUpdate
{
    public uint Offset;
    public uint Resv;
    public ulong Data;
}
