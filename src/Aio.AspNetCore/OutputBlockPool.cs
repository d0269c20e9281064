using System.Buffers;

namespace Aio.AspNetCore;

/// <summary>
/// A connection's output pipe's pool: the transport's small blocks (Kestrel's 4 KiB) for the first
/// <see cref="SmallRentsPerBurst"/> blocks written since the send pump last caught up, <see cref="LargeBlockPool"/>'s
/// 64 KiB blocks for the rest of a burst.
/// </summary>
/// <remarks>
/// A response of a few KiB (nearly all of them) stays in small blocks: an idle or slow connection holds no more than it
/// did, and plaintext, JSON and pipelined responses take the path they always took. A response that overflows them is
/// written into large blocks: one rent, one pipe segment and one iovec per 64 KiB instead of sixteen. The pipe asks
/// for a block with a size hint at most <see cref="MaxBufferSize"/>; Kestrel's writers never hint more than a few bytes,
/// so the hint decides nothing and the count does. The count is a plain field: the writer (Kestrel) increments it and
/// the send pump resets it, on two threads in ThreadPool mode, and a lost update only moves one block to the other pool.
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
        if (minBufferSize <= _small.MaxBufferSize && _rentsSinceDrained < SmallRentsPerBurst)
        {
            _rentsSinceDrained++;
            return _small.Rent(minBufferSize);
        }

        return _large.Rent(minBufferSize);
    }

    /// <summary>The send pump consumed all it had read: the next write starts a new burst.</summary>
    public void Drained() => _rentsSinceDrained = 0;

    /// <summary>Nothing to free: the pools belong to the transport.</summary>
    protected override void Dispose(bool disposing)
    {
    }
}
