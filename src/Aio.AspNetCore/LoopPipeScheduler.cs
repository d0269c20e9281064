using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;

namespace Aio.AspNetCore;

/// <summary>
/// A <see cref="PipeScheduler"/> that is a loop: inline when called from the loop itself, otherwise queued and run by
/// one bottom half (one wake-up drains everything queued meanwhile; posting allocates no closure).
/// </summary>
/// <remarks>
/// Two faces. This one runs the transport's pump continuations under the loop's <see cref="SynchronizationContext"/>,
/// which is how their socket awaits know they may resume inline. <see cref="App"/> runs Kestrel's and the app's
/// continuations with none, as on a thread-pool thread: a Task that then completes on the loop resumes its awaiter
/// inline (a context that is not the default one makes the runtime queue that continuation to the thread pool, and
/// the connection's dispose, its close and every Task boundary in Kestrel would each bounce off the loop and back).
/// </remarks>
internal sealed class LoopPipeScheduler : PipeScheduler, IDisposable
{
    private readonly AioContext _context;
    private readonly ConcurrentQueue<(Action<object?> Action, object? State, bool App)> _queue = new();
    private readonly BottomHalf _drain;
    private LoopBlockCache? _blockCache;
    private readonly LargeBlockPool _largeBlocks;
    private int _disposed;

    public LoopPipeScheduler(AioContext context)
    {
        _context = context;
        // Abandoned (the loop disposed with a drain queued), what waits in the queue runs on the pool: pipe completions
        // and a connection's DisposeAsync must not wait for the transport's own Dispose.
        _drain = context.CreateBottomHalf(Drain, "kestrel-pipe", RunLeftoversOnThreadPool);
        _largeBlocks = new LargeBlockPool(context);
        App = new AppScheduler(this);
        Deferred = new DeferredScheduler(this);
    }

    public AioContext Context => _context;

    /// <summary>The loop's block cache (<see cref="LoopBlockCache"/>), once a connection asked for it.</summary>
    internal LoopBlockCache? BlockCache => Volatile.Read(ref _blockCache);

    /// <summary>The 64 KiB blocks this loop's connections write large responses into (<see cref="OutputBlockPool"/>).</summary>
    internal LargeBlockPool LargeBlocks => _largeBlocks;

    /// <summary>
    /// Any thread: the loop's cache in front of <paramref name="pool"/>, made on first use. A transport has one pool, so
    /// one cache per loop; should another pool come (a scheduler is never shared between transports), it is used as is,
    /// and so is a pool whose blocks may be larger than <see cref="LoopBlockCache.MaxCachedBlockSize"/>.
    /// </summary>
    public MemoryPool<byte> BlockCacheFor(MemoryPool<byte> pool)
    {
        if (pool.MaxBufferSize > LoopBlockCache.MaxCachedBlockSize)
        {
            return pool;
        }

        var cache = Volatile.Read(ref _blockCache);
        if (cache is null)
        {
            var made = new LoopBlockCache(pool, _context);
            cache = Interlocked.CompareExchange(ref _blockCache, made, null) ?? made;

            // Made while the transport stops (a connection accepted late): Dispose may have looked before it was here.
            // A disposed cache lends and takes back straight from the pool. Fences: the exchange here and Dispose's.
            if (Volatile.Read(ref _disposed) != 0)
            {
                cache.Dispose();
            }
        }

        return cache.Pool == pool ? cache : pool;
    }

    /// <summary>The same loop for Kestrel's ends of the pipes: continuations run with no synchronization context.</summary>
    public PipeScheduler App { get; }

    /// <summary>
    /// The transport's face, never inline: also from the loop itself the continuation waits for the loop's
    /// bottom-half phase. For the send pump in Loop mode: Kestrel flushes a response more than once (a chunked body,
    /// then its last chunk), and a pump resumed inline at the first flush sends that much at once and the rest in a
    /// second SEND; resumed after the request's synchronous work, it sends the whole response in one.
    /// </summary>
    public PipeScheduler Deferred { get; }

    public override void Schedule(Action<object?> action, object? state) => Schedule(action, state, app: false);

    private void Schedule(Action<object?> action, object? state, bool app)
    {
        if (AioContext.Current == _context)
        {
            Run(action, state, app);
            return;
        }

        Post(action, state, app);
    }

    private void Post(Action<object?> action, object? state, bool app)
    {
        _queue.Enqueue((action, state, app));
        try
        {
            // Idempotent while pending; the drain reads the queue after it was dequeued, so nothing is missed.
            _drain.Schedule();
        }
        catch (ObjectDisposedException)
        {
            // The loop is gone (host shutting down): run on the thread pool so pipe completions still complete.
            RunLeftoversOnThreadPool();
        }
    }

    /// <summary>
    /// Deletes the drain bottom half (a flag: safe from any thread, also once the loop is gone) and runs what is still
    /// queued on the thread pool. The transport calls it when it stops, after an owned loop was disposed.
    /// </summary>
    public void Dispose()
    {
        _drain.Dispose();

        // Its blocks go back to the pool, which the transport disposes after this.
        Interlocked.Exchange(ref _disposed, 1);
        Volatile.Read(ref _blockCache)?.Dispose();
        _largeBlocks.Dispose();

        // What was queued before the delete and not drained yet would be lost: a Schedule after the delete throws and
        // takes the thread-pool path itself, one before it left its item in the queue for this.
        RunLeftoversOnThreadPool();
    }

    private void RunLeftoversOnThreadPool()
    {
        while (_queue.TryDequeue(out var item))
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(item.Action, item.State, preferLocal: false);
        }
    }

    private void Drain()
    {
        // Bounded: work queued by what runs here waits for the next run, so other bottom halves are not starved.
        int count = _queue.Count;
        try
        {
            while (count-- > 0 && _queue.TryDequeue(out var item))
            {
                Run(item.Action, item.State, item.App);
            }
        }
        finally
        {
            // Also when a continuation threw (the loop reports it as a callback exception): what is still queued
            // must not wait for an unrelated post to schedule the drain again.
            if (!_queue.IsEmpty)
            {
                try
                {
                    _drain.Schedule();
                }
                catch (ObjectDisposedException)
                {
                    // Deleted meanwhile (the transport is stopping): as in Post.
                    RunLeftoversOnThreadPool();
                }
            }
        }
    }

    private void Run(Action<object?> action, object? state, bool app)
    {
        var saved = SynchronizationContext.Current;
        var wanted = app ? null : _context.SynchronizationContext;
        if (saved == wanted)
        {
            action(state);
            return;
        }

        SynchronizationContext.SetSynchronizationContext(wanted);
        try
        {
            action(state);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }
    }

    /// <summary>The owner's loop, always through the queue (see <see cref="Deferred"/>).</summary>
    private sealed class DeferredScheduler(LoopPipeScheduler owner) : PipeScheduler
    {
        public override void Schedule(Action<object?> action, object? state) => owner.Post(action, state, app: false);
    }

    /// <summary>The owner's loop, for Kestrel's side.</summary>
    private sealed class AppScheduler(LoopPipeScheduler owner) : PipeScheduler
    {
        public override void Schedule(Action<object?> action, object? state) => owner.Schedule(action, state, app: true);
    }
}
