namespace Aio.Async;

/// <summary>
/// One <see cref="AioContext.InvokeAsync(Func{Task})"/>: a one-shot that starts the work on the loop, or fails its
/// awaiter with <see cref="ObjectDisposedException"/> if the context is disposed before the work could start.
/// </summary>
/// <typeparam name="TTask">The work's task type.</typeparam>
internal sealed class LoopInvocation<TTask>
    where TTask : Task
{
    private readonly Func<TTask> _work;
    private readonly TaskScheduler _scheduler;
    private readonly string _contextName;

    private readonly TaskCompletionSource<TTask> _started = new();

    public LoopInvocation(Func<TTask> work, TaskScheduler scheduler, string contextName)
    {
        _work = work;
        _scheduler = scheduler;
        _contextName = contextName;
    }

    /// <summary>The work's own task once it started (or its synchronous exception), or the abandonment.</summary>
    public Task<TTask> Started => _started.Task;

    /// <summary>On the loop: runs the work inline, as a task of the loop's scheduler.</summary>
    public void Run()
    {
        // As a task of the loop's scheduler (run inline: the scheduler inlines on the loop), so that inside the work
        // TaskScheduler.Current is the loop's, as it is for Task.Factory.StartNew on it: StartNew and ContinueWith
        // there stay on the loop.
        var task = new Task<TTask>(_work, TaskCreationOptions.DenyChildAttach);
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

    /// <summary>
    /// The context was disposed before the one-shot ran. The task fails from the thread pool: this runs inside Dispose,
    /// and the awaiters' continuations (which may run synchronously on the completing thread) must not run in there.
    /// </summary>
    public void Abandon() => ThreadPool.UnsafeQueueUserWorkItem(static s => s.Fail(), this, preferLocal: false);

    private void Fail()
        => _started.TrySetException(new ObjectDisposedException(nameof(AioContext), $"AioContext '{_contextName}' was disposed before the work could start."));
}
