using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct io_uring_rsrc_register (32 bytes): the IORING_REGISTER_BUFFERS2 argument (5.13; sparse tables 5.19).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RsrcRegister
{
    public uint Nr;
    public uint Flags;
    public ulong Resv2;
    public ulong Data;
    public ulong Tags;
}
