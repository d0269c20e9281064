using System.Collections.Concurrent;
using System.Numerics;

namespace Aio.Nbd;

/// <summary>
/// Page-aligned buffers for payloads (O_DIRECT needs them), in power-of-two size classes from 4 KiB to the maximum
/// payload plus one alignment unit, so steady-state requests allocate nothing.
/// </summary>
internal static class NbdBufferPool
{
    /// <summary>Every buffer's address alignment: enough for O_DIRECT on any device whose memory alignment is at most a page.</summary>
    public const int Alignment = 4096;

    private const int MinShift = 12;
    private const int MaxShift = 26;            // 64 MiB: the maximum payload rounded out to alignment on both sides
    private const long BytesKeptPerClass = 64L * 1024 * 1024;
    private static readonly ConcurrentBag<AlignedBuffer>[] s_classes = CreateClasses();
    private static readonly int[] s_counts = new int[MaxShift + 1];

    /// <summary>A buffer of at least <paramref name="length"/> bytes, aligned to <see cref="Alignment"/>.</summary>
    public static AlignedBuffer Rent(int length)
    {
        int shift = Math.Max(MinShift, 32 - BitOperations.LeadingZeroCount((uint)Math.Max(1, length) - 1));
        if (shift > MaxShift)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "Larger than the largest NBD payload.");
        }

        if (s_classes[shift].TryTake(out var buffer))
        {
            // Pairs with the increment in Return: the count bounds how much memory the pool keeps.
            Interlocked.Decrement(ref s_counts[shift]);
            return buffer;
        }

        return new AlignedBuffer(1 << shift, Alignment);
    }

    /// <summary>Gives a buffer back (or frees it if its class is full).</summary>
    public static void Return(AlignedBuffer buffer)
    {
        if (buffer.IsPinned)
        {
            // Still pinned: a request its context abandoned at Dispose keeps its pin for good (the kernel may still
            // write into it). Pooled, the next renter would share that memory; disposed, it is freed only if the pin
            // ever goes.
            ((IDisposable)buffer).Dispose();
            return;
        }

        int shift = BitOperations.Log2((uint)buffer.Length);
        if ((1 << shift) != buffer.Length || shift < MinShift || shift > MaxShift
            || (long)Interlocked.Increment(ref s_counts[shift]) * buffer.Length > Math.Max(BytesKeptPerClass, 2L * buffer.Length))
        {
            if (shift >= MinShift && shift <= MaxShift && (1 << shift) == buffer.Length)
            {
                Interlocked.Decrement(ref s_counts[shift]);
            }

            ((IDisposable)buffer).Dispose();
            return;
        }

        s_classes[shift].Add(buffer);
    }

    private static ConcurrentBag<AlignedBuffer>[] CreateClasses()
    {
        var classes = new ConcurrentBag<AlignedBuffer>[MaxShift + 1];
        for (int i = 0; i < classes.Length; i++)
        {
            classes[i] = [];
        }

        return classes;
    }
}
