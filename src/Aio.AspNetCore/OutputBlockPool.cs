using System.Buffers;

namespace Aio.AspNetCore;

/// <summary>
/// A connection's output pipe's pool: the transport's small blocks (Kestrel's 4 KiB) for the first
/// <see cref="SmallRentsPerBurst"/> blocks written since the send pump last consumed all it had read,
/// <see cref="LargeBlockPool"/>'s 64 KiB blocks for the rest of that burst.
/// </summary>
/// <remarks>
/// <para>A response of a few KiB (nearly all of them) stays in small blocks: an idle or slow connection holds no more
/// than it did, and plaintext, JSON and pipelined responses take the path they always took. A response that overflows
/// them is written into large blocks: one rent, one pipe segment and one iovec per 64 KiB instead of sixteen.</para>
/// <para>The pipe rents with a size hint of at most <see cref="MaxBufferSize"/>. A hint above the small blocks (an app's
/// <c>GetMemory(4096)</c> on a chunked body becomes 4,108 bytes with Kestrel's chunk framing) gets a large block at once,
/// where the pipe used to take an unpinned array from <c>ArrayPool</c>. (A later System.IO.Pipelines than .NET 10's
/// doubles each new segment's size hint, which would send the second rent of a burst here too.)</para>
/// <para>The burst is counted from the send pump's last <see cref="Drained"/>: after each send, once the pump consumed all
/// it had read (a writer that kept writing meanwhile starts its next two blocks small again, which costs nothing but
/// the larger count of blocks). The writer (Kestrel) counts with an interlocked increment and the pump resets with a
/// plain store, on two threads in ThreadPool mode: a reset is never lost.</para>
/// </remarks>
internal sealed class OutputBlockPool : MemoryPool<byte>
{
    /// <summary>Small blocks a burst of writes takes before it is given large ones.</summary>
    public const int SmallRentsPerBurst = 2;

    private readonly MemoryPool<byte> _small;
    private readonly LargeBlockPool _large;
    private int _rentsSinceDrained;

    /// <summary>Lends from <paramref name="small"/> and <paramref name="large"/>, which outlive it.</summary>
    public OutputBlockPool(MemoryPool<byte> small, LargeBlockPool large)
    {
        _small = small;
        _large = large;
    }

    /// <inheritdoc/>
    public override int MaxBufferSize => LargeBlockPool.BlockSize;

    /// <summary>
    /// Whether <paramref name="pool"/>'s blocks are small enough for this to help: Kestrel's are; a pool already lending
    /// large arrays (<see cref="MemoryPool{T}.Shared"/>) is used as it is.
    /// </summary>
    public static bool Helps(MemoryPool<byte> pool) => pool.MaxBufferSize is > 0 and < LargeBlockPool.BlockSize;

    /// <summary>A small block while the burst is short, a large one after.</summary>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize <= _small.MaxBufferSize && Interlocked.Increment(ref _rentsSinceDrained) <= SmallRentsPerBurst)
        {
            return _small.Rent(minBufferSize);
        }

        return _large.Rent(minBufferSize);
    }

    /// <summary>Small-pool rents (and attempts) since the last <see cref="Drained"/>; for tests.</summary>
    internal int RentsSinceDrained => Volatile.Read(ref _rentsSinceDrained);

    /// <summary>The send pump consumed all it had read: the next write starts a new burst.</summary>
    public void Drained() => Volatile.Write(ref _rentsSinceDrained, 0);

    /// <summary>Nothing to free: the pools belong to the transport.</summary>
    protected override void Dispose(bool disposing)
    {
    }
}
