using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// An owned file descriptor, closed exactly once, when the last user let go of it: a thread inside a syscall on it
/// holds a reference (<see cref="SafeHandle.DangerousAddRef"/>), so a concurrent Dispose cannot close the number under
/// it, and the kernel cannot hand the number to a new file while the syscall still uses it.
/// </summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor. Only meaningful while the caller holds a reference.</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
