using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct rusage (144 bytes on 64-bit): the two CPU times, then fourteen longs this project does not read.</summary>
[StructLayout(LayoutKind.Sequential, Size = 144)]
internal struct RUsage
{
    public long UserSeconds;
    public long UserMicroseconds;
    public long SystemSeconds;
    public long SystemMicroseconds;
}
