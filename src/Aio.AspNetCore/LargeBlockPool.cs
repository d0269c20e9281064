using System.Buffers;
using System.Runtime.InteropServices;

namespace Aio.AspNetCore;

/// <summary>
/// A loop's pool of <see cref="BlockSize"/> pinned blocks for the bulk of large responses (<see cref="OutputBlockPool"/>
/// decides when): last in, first out, up to <see cref="Capacity"/> kept, more made on demand and left to the GC when
/// they come back to a full pool; kept blocks that no rent needed for a whole trim period go to the GC too.
/// </summary>
/// <remarks>
/// <para>Kestrel's pool lends 4 KiB blocks. A 1 MiB response written into the output pipe takes 256 of them, and each
/// costs a rent, a pipe segment, a first touch of a cold block, a return and an iovec in the send; serving 1 MiB
/// responses, that per-block work was a sixth of the server's CPU. In 64 KiB blocks the same response is 16 segments
/// (docs/KESTREL.md has the measurements).</para>
/// <para>Each block is its own <see cref="IMemoryOwner{T}"/> and comes back whole, so the steady state allocates nothing.
/// Rents and returns take a lock: the writer may be Kestrel on a pool thread, the returner the loop; 64 KiB of data per
/// lock makes its cost invisible. The blocks are pinned arrays (the pinned object heap), so a send pins nothing.</para>
/// </remarks>
internal sealed class LargeBlockPool : MemoryPool<byte>
{
    /// <summary>The size of every block.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>
    /// Blocks kept at most: 64 MiB, what 64 connections receiving 1 MiB responses hold at once. With 256, a loop serving
    /// that made a new block for one rent in seven (two loops) to one in two (one loop).
    /// </summary>
    public const int Capacity = 1024;

    /// <summary>How often kept blocks that no rent needed since the last look are given to the GC.</summary>
    public static readonly TimeSpan DefaultTrimPeriod = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Block?[] _free = new Block?[Capacity];
    private readonly AioTimer? _trimTimer;
    private readonly TimeSpan _trimPeriod;
    private int _count;
    private int _lowWater;
    private bool _trimPending;
    private long _made;
    private bool _disposed;

    /// <summary>
    /// A pool that trims itself on <paramref name="trimLoop"/>'s timer every <paramref name="trimPeriod"/> (default
    /// <see cref="DefaultTrimPeriod"/>) while it keeps blocks; without a loop only <see cref="Trim"/> trims.
    /// </summary>
    public LargeBlockPool(AioContext? trimLoop = null, TimeSpan? trimPeriod = null)
    {
        _trimPeriod = trimPeriod ?? DefaultTrimPeriod;
        _trimTimer = trimLoop?.CreateTimer(AioClock.Monotonic, OnTrimTimer);
    }

    /// <inheritdoc/>
    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks waiting in the pool to be rented again.</summary>
    public int Retained
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Blocks allocated since the pool was made (the GC's work: a steady state makes none).</summary>
    public long Made => Interlocked.Read(ref _made);

    /// <summary>Any thread: a <see cref="BlockSize"/> block, the one returned last if any.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is above <see cref="BlockSize"/>.</exception>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        Block? block = null;
        lock (_lock)
        {
            if (_count > 0)
            {
                block = _free[--_count];
                _free[_count] = null;
                _lowWater = Math.Min(_lowWater, _count);
            }
        }

        if (block is null)
        {
            Interlocked.Increment(ref _made);
            block = new Block(this);
        }

        block.Lend();
        return block;
    }

    /// <summary>
    /// Gives the GC the kept blocks no rent reached since the last trim (the oldest ones, at the bottom of the stack):
    /// blocks that sat unused for a whole period. A load that keeps renting keeps its working set.
    /// </summary>
    /// <returns>How many blocks were dropped.</returns>
    public int Trim()
    {
        lock (_lock)
        {
            return TrimLocked();
        }
    }

    /// <summary>Drops the kept blocks and the trim timer; blocks still lent are dropped when they come back.</summary>
    protected override void Dispose(bool disposing)
    {
        lock (_lock)
        {
            _disposed = true;
            Array.Clear(_free);
            _count = _lowWater = 0;
        }

        _trimTimer?.Dispose();
    }

    private int TrimLocked()
    {
        // The low-water mark is at most the count (pops lower both, pushes raise only the count, Dispose zeroes both);
        // a timer callback that waited for the lock while Dispose emptied the pool finds nothing to drop.
        int drop = Math.Min(_lowWater, _count);
        if (drop > 0)
        {
            Array.Copy(_free, drop, _free, 0, _count - drop);
            Array.Clear(_free, _count - drop, drop);
            _count -= drop;
        }

        _lowWater = _count;
        return drop;
    }

    private void Return(Block block)
    {
        // Kept twice, one block would go to two renters: a second Dispose is refused before anything changes.
        block.EndLoan();
        bool arm = false;
        lock (_lock)
        {
            if (!_disposed && _count < Capacity)
            {
                _free[_count++] = block;

                // The timer runs while blocks are kept, and only then: an idle loop with an empty pool never wakes for it.
                if (_trimTimer is not null && !_trimPending)
                {
                    _trimPending = arm = true;
                }
            }
        }

        if (arm)
        {
            ArmTrim();
        }
    }

    private void OnTrimTimer()
    {
        bool again;
        lock (_lock)
        {
            TrimLocked();
            _trimPending = again = _count > 0 && !_disposed;
        }

        if (again)
        {
            ArmTrim();
        }
    }

    private void ArmTrim()
    {
        try
        {
            _trimTimer!.ArmAfter(_trimPeriod);
        }
        catch (ObjectDisposedException)
        {
            // The loop or the pool is gone (the transport is stopping): nothing is kept for long now.
        }
    }

    /// <summary>A pinned array lent as itself; one per array for its whole life.</summary>
    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly LargeBlockPool _owner;
        private int _lent;

        /// <summary>Allocates the block's array on the pinned object heap.</summary>
        public Block(LargeBlockPool owner)
        {
            _owner = owner;

            // Pinned for its life: Memory.Pin(), which every send does, is then free (no GC handle).
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);
        }

        /// <summary>The whole array.</summary>
        public Memory<byte> Memory { get; }

        /// <summary>Marks the block lent (it left the pool).</summary>
        public void Lend() => Volatile.Write(ref _lent, 1);

        /// <summary>Marks the block back; throws if it already was, before anything changes.</summary>
        public void EndLoan()
        {
            if (Interlocked.Exchange(ref _lent, 0) == 0)
            {
                throw new InvalidOperationException("A memory block was returned twice.");
            }
        }

        /// <summary>Gives the block back to its pool.</summary>
        public void Dispose() => _owner.Return(this);
    }
}
