using System.Runtime.InteropServices;
using Aio.Uring;

namespace Aio;

/// <summary>The kernel's <c>struct io_uring_cqe</c> (16 bytes): one completion, copied out of the completion queue.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public readonly struct Cqe
{
    [FieldOffset(0)] private readonly ulong _userData;
    [FieldOffset(8)] private readonly int _res;
    [FieldOffset(12)] private readonly uint _flags;

    internal Cqe(ulong userData, int result, uint flags)
    {
        _userData = userData;
        _res = result;
        _flags = flags;
    }

    /// <summary><c>res</c>: a success value (bytes transferred, ready events, ...) when ≥ 0, <c>-errno</c> when negative.</summary>
    public int Result => _res;

    /// <summary><c>flags</c> (IORING_CQE_F_*).</summary>
    public uint Flags => _flags;

    /// <summary>IORING_CQE_F_MORE: a multishot request posts more completions after this one.</summary>
    public bool HasMore => (_flags & IoUringConstants.CqeFMore) != 0;

    internal ulong UserData => _userData;

    /// <inheritdoc/>
    public override string ToString() => $"Cqe(res={_res}, flags=0x{_flags:x})";
}
