namespace Aio.Async;

/// <summary>
/// A <see cref="SynchronizationContext.Post"/> to the loop. If the loop is gone (the context was disposed before or
/// after the post), the callback runs on the thread pool instead: posted callbacks are mostly await continuations, and
/// dropping one would leave its async method, and whoever awaits it, waiting for good; throwing from Post is worse
/// (an await continuation that cannot be posted takes the process down). Off the loop, the resumed code meets
/// <see cref="ObjectDisposedException"/> at its next use of the context.
/// </summary>
internal sealed class PostedCallback
{
    private readonly SendOrPostCallback _callback;
    private readonly object? _state;

    public PostedCallback(SendOrPostCallback callback, object? state)
    {
        _callback = callback;
        _state = state;
    }

    /// <summary>On the loop.</summary>
    public void Run() => _callback(_state);

    /// <summary>The loop is gone: the thread pool runs it.</summary>
    public void RunElsewhere() => ThreadPool.UnsafeQueueUserWorkItem(static p => p.Run(), this, preferLocal: false);
}
