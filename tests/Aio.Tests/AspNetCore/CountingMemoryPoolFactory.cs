using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Aio.Tests.AspNetCore;

/// <summary>Pools over the shared pool, counting the blocks rented and not yet returned.</summary>
public sealed class CountingMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private int _outstanding;

    public int Outstanding => Volatile.Read(ref _outstanding);

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool(this);

    private sealed class Pool(CountingMemoryPoolFactory owner) : MemoryPool<byte>
    {
        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            Interlocked.Increment(ref owner._outstanding);
            return new Block(owner, Shared.Rent(Math.Max(minBufferSize, 4096)));
        }

        protected override void Dispose(bool disposing)
        {
        }
    }

    private sealed class Block(CountingMemoryPoolFactory owner, IMemoryOwner<byte> inner) : IMemoryOwner<byte>
    {
        private int _disposed;

        public Memory<byte> Memory => inner.Memory;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._outstanding);
                inner.Dispose();
            }
        }
    }
}
