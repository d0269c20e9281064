using System.Collections.Concurrent;

namespace Aio.Async;

/// <summary>
/// Memory that the kernel may still read or write after its request was abandoned: a context torn down without the
/// kernel giving the request back (off its home thread, or past its dispose timeout). Forgetting the pin is not enough
/// to keep such memory: an array allocated pinned (the pinned object heap, as Kestrel's pool and
/// <c>GC.AllocateArray(pinned: true)</c> make them) has no handle in its pin, and once nobody references it the GC
/// frees it and hands the bytes to other objects, which the kernel would then overwrite. Kept here, reachable for the
/// process's life; a rare path (a few buffers per abandoned context), so the leak is bounded by what was in flight.
/// </summary>
internal static class KernelHeldMemory
{
    private static readonly ConcurrentQueue<object> s_kept = new();

    /// <summary>How many buffers are kept (for tests).</summary>
    internal static int Count => s_kept.Count;

    /// <summary>Keeps <paramref name="memory"/>'s owner (its array or memory manager) reachable for good.</summary>
    public static void Keep(ReadOnlyMemory<byte> memory)
    {
        if (!memory.IsEmpty)
        {
            // Boxed: the box references the array or manager behind the memory, whatever kind it is.
            s_kept.Enqueue(memory);
        }
    }
}
