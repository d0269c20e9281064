using System.Runtime.InteropServices;

namespace Aio.GLib.Interop;

/// <summary>GLib's GSourceFuncs: prepare, check, dispatch, finalize, and two closure slots (unused, null).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GSourceFuncs
{
    public delegate* unmanaged<nint, int*, int> Prepare;
    public delegate* unmanaged<nint, int> Check;
    public delegate* unmanaged<nint, nint, nint, int> Dispatch;
    public delegate* unmanaged<nint, void> Finalize;
    public nint ClosureCallback;
    public nint ClosureMarshal;
}
