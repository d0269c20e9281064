namespace Aio.Async;

/// <summary>Runs tasks on the loop, one one-shot bottom half each; inlines only on the home thread inside the loop.</summary>
internal sealed class AioTaskScheduler : TaskScheduler
{
    private readonly AioContext _context;

    public AioTaskScheduler(AioContext context) => _context = context;

    public override int MaximumConcurrencyLevel => 1;

    protected override void QueueTask(Task task) => _context.ScheduleOneShot(() => TryExecuteTask(task));

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
        => AioContext.Current == _context && TryExecuteTask(task);

    protected override IEnumerable<Task>? GetScheduledTasks() => null;
}
