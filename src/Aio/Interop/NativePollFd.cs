using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct pollfd (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativePollFd
{
    public int Fd;
    public short Events;
    public short REvents;
}
