using System.Buffers;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// The loop's block cache: last in, first out on the loop thread, straight to the pool elsewhere and beyond its
/// capacity, every block back in the pool after Dispose, and nothing allocated in the steady state.
/// </summary>
public sealed class LoopBlockCacheTests : IDisposable
{
    private readonly IoThread _io = IoThread.Start("block-cache");
    private readonly CountingPool _pool = new();
    private readonly LoopBlockCache _cache;
    private readonly IMemoryOwner<byte>[] _held = new IMemoryOwner<byte>[LoopBlockCache.Capacity + 16];

    public LoopBlockCacheTests()
    {
        _cache = new LoopBlockCache(_pool, _io.Context);
    }

    public void Dispose()
    {
        _cache.Dispose();
        _io.Dispose();
    }

    [Fact]
    public async Task On_the_loop_the_block_returned_last_is_the_next_one_rented()
    {
        var (first, second, again, rents) = await OnLoop(() =>
        {
            var a = _cache.Rent();
            var b = _cache.Rent();
            var aMemory = a.Memory;
            a.Dispose();
            b.Dispose();
            var c = _cache.Rent();
            var result = (aMemory, b.Memory, c.Memory, _pool.Rents);
            c.Dispose();
            return result;
        });

        // b went back last: it comes out first, and the pool was asked twice in all.
        Assert.True(again.Span == second.Span, "the block rented after two returns was not the one returned last");
        Assert.False(again.Span == first.Span);
        Assert.Equal(2, rents);
        Assert.Equal(2, _cache.Count);
        Assert.Equal(2, _pool.Outstanding);
    }

    [Fact]
    public async Task A_cached_block_smaller_than_a_rent_asks_for_stays_cached()
    {
        using var shared = new LoopBlockCache(MemoryPool<byte>.Shared, _io.Context);
        var (small, large, cachedAfter) = await OnLoop(() =>
        {
            var a = shared.Rent(1024);
            int length = a.Memory.Length;
            a.Dispose();
            var b = shared.Rent(length * 4);
            var result = (length, b.Memory.Length, shared.Count);
            b.Dispose();
            return result;
        });

        Assert.True(large >= small * 4, $"a rent of {small * 4} bytes got {large}");
        Assert.Equal(1, cachedAfter);
    }

    [Fact]
    public async Task A_block_returned_twice_throws_and_is_cached_once()
    {
        var (second, cached) = await OnLoop(() =>
        {
            var block = _cache.Rent();
            block.Dispose();
            var error = Record.Exception(block.Dispose);
            return (error, _cache.Count);
        });

        Assert.IsType<InvalidOperationException>(second);
        Assert.Equal(1, cached);
    }

    [IoUringFact]
    public void A_pool_lending_blocks_of_any_size_is_not_cached()
    {
        using var scheduler = new LoopPipeScheduler(_io.Context);
        Assert.Same(MemoryPool<byte>.Shared, scheduler.BlockCacheFor(MemoryPool<byte>.Shared));
        Assert.IsType<LoopBlockCache>(scheduler.BlockCacheFor(_pool));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_block_returned_off_the_loop_goes_to_the_pool_wherever_it_was_rented(bool rentedOnLoop)
    {
        var block = rentedOnLoop ? await OnLoop(() => _cache.Rent()) : _cache.Rent();
        Assert.Equal(1, _pool.Outstanding);
        block.Dispose();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _cache.Count);
    }

    [Fact]
    public async Task Beyond_its_capacity_the_cache_returns_blocks_to_the_pool()
    {
        const int extra = 10;
        await OnLoop(() =>
        {
            var blocks = new List<IMemoryOwner<byte>>();
            for (int i = 0; i < LoopBlockCache.Capacity + extra; i++)
            {
                blocks.Add(_cache.Rent());
            }

            foreach (var block in blocks)
            {
                block.Dispose();
            }

            return 0;
        });

        Assert.Equal(LoopBlockCache.Capacity, _cache.Count);
        Assert.Equal(LoopBlockCache.Capacity, _pool.Outstanding);
    }

    [Fact]
    public async Task Dispose_gives_every_cached_block_back_and_later_returns_go_to_the_pool()
    {
        var kept = await OnLoop(() =>
        {
            var a = _cache.Rent();
            var b = _cache.Rent();
            a.Dispose();
            return b;
        });
        Assert.Equal(1, _cache.Count);
        Assert.Equal(2, _pool.Outstanding);

        _cache.Dispose();
        Assert.Equal(1, _pool.Outstanding);
        await OnLoop(() =>
        {
            kept.Dispose();
            return 0;
        });
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _cache.Count);
    }

    [Fact]
    public async Task Renting_and_returning_on_the_loop_allocates_nothing_in_the_steady_state()
    {
        long allocated = await OnLoop(() =>
        {
            // Warm: the wrappers exist and the code is compiled (the first calls may allocate for the JIT).
            RentAndReturn(LoopBlockCache.Capacity + 16);
            RentAndReturn(LoopBlockCache.Capacity + 16);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                RentAndReturn(LoopBlockCache.Capacity + 16);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        });

        Assert.Equal(0, allocated);
    }

    private void RentAndReturn(int count)
    {
        var blocks = _held;
        for (int i = 0; i < count; i++)
        {
            blocks[i] = _cache.Rent();
        }

        for (int i = 0; i < count; i++)
        {
            blocks[i].Dispose();
            blocks[i] = null!;
        }
    }

    private Task<T> OnLoop<T>(Func<T> work) => _io.Context.InvokeAsync(() => Task.FromResult(work())).WaitAsync(Wait.Default);

    /// <summary>A pool that counts what it lent and got back, and lends its returned blocks again (last in, first out).</summary>
    private sealed class CountingPool : MemoryPool<byte>
    {
        private readonly Lock _lock = new();
        private readonly Stack<Block> _free = new();
        private int _outstanding;
        private int _rents;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public int Rents => Volatile.Read(ref _rents);

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            Interlocked.Increment(ref _outstanding);
            Interlocked.Increment(ref _rents);
            lock (_lock)
            {
                var block = _free.Count > 0 ? _free.Pop() : new Block(this);
                block.Lent = true;
                return block;
            }
        }

        protected override void Dispose(bool disposing)
        {
        }

        private void Return(Block block)
        {
            lock (_lock)
            {
                if (!block.Lent)
                {
                    throw new InvalidOperationException("a block was returned twice");
                }

                block.Lent = false;
                _free.Push(block);
            }

            Interlocked.Decrement(ref _outstanding);
        }

        private sealed class Block(CountingPool owner) : IMemoryOwner<byte>
        {
            private readonly byte[] _array = new byte[4096];

            public bool Lent { get; set; }

            public Memory<byte> Memory => _array;

            public void Dispose() => owner.Return(this);
        }
    }
}
