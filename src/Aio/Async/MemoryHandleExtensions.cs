using System.Buffers;

namespace Aio.Async;

/// <summary>The address of a pinned <see cref="MemoryHandle"/> without an <c>unsafe</c> block here.</summary>
internal static class MemoryHandleExtensions
{
    public static nint Address(this MemoryHandle handle) => Interop.Pointers.Address(handle);
}
