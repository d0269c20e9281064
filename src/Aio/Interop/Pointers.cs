using System.Buffers;

namespace Aio.Interop;

/// <summary>Pointer conversions the safe layers need (the only place a pinned handle becomes an address).</summary>
internal static unsafe class Pointers
{
    public static nint Address(MemoryHandle handle) => (nint)handle.Pointer;
}
