using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct linger (SO_LINGER).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Linger
{
    public int OnOff;
    public int Seconds;
}
