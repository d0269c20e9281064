namespace Aio;

// async/await on the loop.
public sealed partial class AioContext
{
    private readonly Async.AioSynchronizationContext _synchronizationContext;
    private readonly Async.AioTaskScheduler _taskScheduler;

    /// <summary>Posts to the loop. It is <see cref="System.Threading.SynchronizationContext.Current"/> while the loop runs callbacks.</summary>
    public SynchronizationContext SynchronizationContext => _synchronizationContext;

    /// <summary>Runs tasks on the loop.</summary>
    public TaskScheduler TaskScheduler => _taskScheduler;

    /// <summary>Starts <paramref name="work"/> on the loop (any thread); its awaits resume on the loop.</summary>
    /// <remarks>If the context is disposed before the work started, the task fails with <see cref="ObjectDisposedException"/>.</remarks>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task InvokeAsync(Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var invocation = new Async.LoopInvocation<Task>(work, _taskScheduler, Name);
        if (!TryScheduleOneShot(invocation.Run, invocation.Abandon))
        {
            ThrowDisposed();
        }

        return invocation.Started.Unwrap();
    }

    /// <summary>Starts <paramref name="work"/> on the loop (any thread) and returns its result.</summary>
    /// <remarks>If the context is disposed before the work started, the task fails with <see cref="ObjectDisposedException"/>.</remarks>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task<T> InvokeAsync<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var invocation = new Async.LoopInvocation<Task<T>>(work, _taskScheduler, Name);
        if (!TryScheduleOneShot(invocation.Run, invocation.Abandon))
        {
            ThrowDisposed();
        }

        return invocation.Started.Unwrap();
    }
}
