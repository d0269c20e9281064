namespace Aio.Async;

/// <summary>
/// One <see cref="AioContext.InvokeAsync(Func{Task})"/> (or one of its overloads): a one-shot that starts the work on
/// the loop; or cancels its task if the token is cancelled first; or fails it with <see cref="ObjectDisposedException"/>
/// if the context is disposed before the work could start.
/// </summary>
/// <typeparam name="TState">The state passed to the work (the work delegate itself for the overloads without state).</typeparam>
/// <typeparam name="TTask">The work's task type.</typeparam>
internal sealed class LoopInvocation<TState, TTask> : LoopWorkItem
    where TTask : Task
{
    private readonly Func<TState, TTask> _work;
    private readonly TState _state;
    private readonly TaskScheduler _scheduler;
    private readonly string _contextName;

    private readonly TaskCompletionSource<TTask> _started = new();

    public LoopInvocation(Func<TState, TTask> work, TState state, TaskScheduler scheduler, string contextName)
    {
        _work = work;
        _state = state;
        _scheduler = scheduler;
        _contextName = contextName;
    }

    /// <summary>The work's own task once it started (or its synchronous exception), the cancellation, or the abandonment.</summary>
    public Task<TTask> Started => _started.Task;

    /// <summary>On the loop: runs the work inline, as a task of the loop's scheduler.</summary>
    protected override void Execute()
    {
        // As a task of the loop's scheduler (run inline: the scheduler inlines on the loop), so that inside the work
        // TaskScheduler.Current is the loop's, as it is for Task.Factory.StartNew on it: StartNew and ContinueWith
        // there stay on the loop. The state is this object: no closure.
        var task = new Task<TTask>(static s => ((LoopInvocation<TState, TTask>)s!).Invoke(), this, TaskCreationOptions.DenyChildAttach);
        task.RunSynchronously(_scheduler);
        if (task.IsFaulted)
        {
            _started.SetException(task.Exception!.InnerExceptions);
        }
        else
        {
            _started.SetResult(task.Result);
        }
    }

    /// <summary>The token won before the work started: the task is cancelled, on the cancelling thread (as token callbacks run).</summary>
    protected override void OnCancelled(CancellationToken cancellationToken) => _started.TrySetCanceled(cancellationToken);

    /// <summary>
    /// The context was disposed before the one-shot ran. The task fails from the thread pool: this runs inside Dispose,
    /// and the awaiters' continuations (which may run synchronously on the completing thread) must not run in there.
    /// </summary>
    protected override void OnAbandoned() => ThreadPool.UnsafeQueueUserWorkItem(static s => s.Fail(), this, preferLocal: false);

    private TTask Invoke() => _work(_state);

    private void Fail()
        => _started.TrySetException(new ObjectDisposedException(nameof(AioContext), $"AioContext '{_contextName}' was disposed before the work could start."));
}
