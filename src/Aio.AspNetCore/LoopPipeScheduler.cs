using System.Collections.Concurrent;
using System.IO.Pipelines;

namespace Aio.AspNetCore;

/// <summary>
/// A <see cref="PipeScheduler"/> that is a loop: inline when called from the loop itself, otherwise queued and run by
/// one bottom half (one wake-up drains everything queued meanwhile; posting allocates no closure).
/// </summary>
internal sealed class LoopPipeScheduler : PipeScheduler, IDisposable
{
    private readonly AioContext _context;
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _queue = new();
    private readonly BottomHalf _drain;

    public LoopPipeScheduler(AioContext context)
    {
        _context = context;
        _drain = context.CreateBottomHalf(Drain, "kestrel-pipe");
    }

    public AioContext Context => _context;

    public override void Schedule(Action<object?> action, object? state)
    {
        if (AioContext.Current == _context)
        {
            action(state);
            return;
        }

        _queue.Enqueue((action, state));
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
    /// Deletes the drain bottom half (a flag: safe from any thread, also once the loop is gone). Only for a loop the
    /// transport borrowed: an owned loop takes its bottom halves with it.
    /// </summary>
    public void Dispose()
    {
        _drain.Dispose();

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
        while (count-- > 0 && _queue.TryDequeue(out var item))
        {
            item.Action(item.State);
        }

        if (!_queue.IsEmpty)
        {
            _drain.Schedule();
        }
    }
}
