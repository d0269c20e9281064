using System.Collections.Concurrent;

namespace Aio.Monitors;

/// <summary>
/// The typed form of <see cref="PendingSqe"/>: keeps the caller's state unboxed. Pooled per state type: foreign threads
/// rent, the home thread returns, through a lock-free queue that stops allocating once it has grown to the traffic.
/// </summary>
internal sealed class PendingSqeOf<TState> : PendingSqe
{
    private const int PoolLimit = 1024;
    private static readonly ConcurrentQueue<PendingSqeOf<TState>> s_pool = new();
    private static int s_pooled;

    private SqePreparer<TState>? _prepare;
    private TState? _state;

    public static PendingSqeOf<TState> Rent(SqePreparer<TState> prepare, TState state, CqeHandler handler)
    {
        if (s_pool.TryDequeue(out var pending))
        {
            Interlocked.Decrement(ref s_pooled);
        }
        else
        {
            pending = new PendingSqeOf<TState>();
        }

        pending._prepare = prepare;
        pending._state = state;
        pending.Handler = handler;
        return pending;
    }

    public override void Prepare(ref Sqe sqe) => _prepare!(ref sqe, _state!);

    public override void Return()
    {
        _prepare = null;
        _state = default;
        Handler = null!;
        if (Interlocked.Increment(ref s_pooled) <= PoolLimit)
        {
            s_pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }
    }
}
