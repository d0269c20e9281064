namespace Aio.Async;

/// <summary>Runs tasks on the loop, one one-shot bottom half each; inlines only on the home thread inside the loop.</summary>
internal sealed class AioTaskScheduler : TaskScheduler
{
    private readonly AioContext _context;

    public AioTaskScheduler(AioContext context) => _context = context;

    public override int MaximumConcurrencyLevel => 1;

    /// <summary>
    /// Throws <see cref="ObjectDisposedException"/> for a disposed context (StartNew and ContinueWith then fail the
    /// task). A task still queued when the context is disposed runs on the thread pool, like a posted callback: a task
    /// cannot be failed from outside, and dropping it would leave its awaiters waiting for good.
    /// </summary>
    protected override void QueueTask(Task task)
    {
        if (!_context.TryScheduleOneShot(() => TryExecuteTask(task), () => ThreadPool.UnsafeQueueUserWorkItem(static s => s.Scheduler.TryExecuteTask(s.Task), (Scheduler: this, Task: task), preferLocal: false)))
        {
            _context.ThrowIfDisposed();
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
        => AioContext.Current == _context && TryExecuteTask(task);

    protected override IEnumerable<Task>? GetScheduledTasks() => null;
}
