namespace Aio;

/// <summary>
/// The continuation <see cref="AioContext.RunUntil(ValueTask)"/> registers on the task it waits for: it records that the
/// task's source has finished completing (the continuation runs after the source's last read of its own fields) and
/// wakes the loop, which may be asleep in the kernel when another thread completes the task.
/// </summary>
internal sealed class RunUntilCompletion
{
    private readonly AioContext _context;
    private volatile bool _signalled;

    public RunUntilCompletion(AioContext context)
    {
        _context = context;
        Signal = OnCompleted;
    }

    /// <summary>The continuation to register.</summary>
    public Action Signal { get; }

    /// <summary>Whether the continuation ran.</summary>
    public bool IsSignalled => _signalled;

    private void OnCompleted()
    {
        _signalled = true;
        _context.NotifyWork();
    }
}
