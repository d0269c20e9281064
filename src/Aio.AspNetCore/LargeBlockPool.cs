using System.Buffers;
using System.Runtime.InteropServices;

namespace Aio.AspNetCore;

/// <summary>
/// A loop's pool of <see cref="BlockSize"/> pinned blocks for the bulk of large responses (<see cref="OutputBlockPool"/>
/// decides when): last in, first out, up to <see cref="Capacity"/> kept, more made on demand and left to the GC when
/// they come back to a full pool.
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

    /// <summary>Blocks kept per loop once returned: 16 MiB, sixteen 1 MiB responses in flight.</summary>
    public const int Capacity = 256;

    private readonly Lock _lock = new();
    private readonly Stack<Block> _free = new();
    private long _made;
    private bool _disposed;

    /// <inheritdoc/>
    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks waiting in the pool to be rented again.</summary>
    public int Retained
    {
        get
        {
            lock (_lock)
            {
                return _free.Count;
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
            _free.TryPop(out block);
        }

        if (block is null)
        {
            Interlocked.Increment(ref _made);
            block = new Block(this);
        }

        block.Lend();
        return block;
    }

    /// <summary>Drops the kept blocks; blocks still lent are dropped when they come back.</summary>
    protected override void Dispose(bool disposing)
    {
        lock (_lock)
        {
            _disposed = true;
            _free.Clear();
        }
    }

    private void Return(Block block)
    {
        // Kept twice, one block would go to two renters: a second Dispose is refused before anything changes.
        block.EndLoan();
        lock (_lock)
        {
            if (!_disposed && _free.Count < Capacity)
            {
                _free.Push(block);
            }
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
