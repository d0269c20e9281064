using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_uring_rsrc_update2 (32 bytes): the IORING_REGISTER_BUFFERS_UPDATE argument (5.13).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RsrcUpdate2
{
    public uint Offset;
    public uint Resv;
    public ulong Data;
    public ulong Tags;
    public uint Nr;
    public uint Resv2;
}
