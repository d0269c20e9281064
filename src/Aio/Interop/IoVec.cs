using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct iovec (16 bytes on 64-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public nint Base;
    public nuint Length;
}
