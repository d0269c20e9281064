using System.Collections.Concurrent;

namespace Aio.Tests.Support;

/// <summary>A CqeHandler that records every completion (and the thread it ran on) and can run an action on each.</summary>
public sealed class RecordingHandler : CqeHandler
{
    private readonly Action<Cqe>? _onEach;

    public RecordingHandler(Action<Cqe>? onEach = null) => _onEach = onEach;

    public ConcurrentQueue<Cqe> Completions { get; } = new();

    public ConcurrentQueue<int> Threads { get; } = new();

    public int Count => Completions.Count;

    protected internal override void OnCompletion(in Cqe cqe)
    {
        Completions.Enqueue(cqe);
        Threads.Enqueue(Environment.CurrentManagedThreadId);
        _onEach?.Invoke(cqe);
    }
}
