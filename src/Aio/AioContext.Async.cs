namespace Aio;

/// <summary>async/await on the loop.</summary>
public sealed partial class AioContext
{
    private readonly Async.AioSynchronizationContext _synchronizationContext;
    private readonly Async.AioTaskScheduler _taskScheduler;

    /// <summary>Posts to the loop. It is <see cref="System.Threading.SynchronizationContext.Current"/> while the loop runs callbacks.</summary>
    public SynchronizationContext SynchronizationContext => _synchronizationContext;

    /// <summary>Runs tasks on the loop.</summary>
    public TaskScheduler TaskScheduler => _taskScheduler;

    /// <summary>Starts <paramref name="work"/> on the loop (any thread); its awaits resume on the loop.</summary>
    public Task InvokeAsync(Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfDisposed();
        return Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _taskScheduler).Unwrap();
    }

    /// <summary>Starts <paramref name="work"/> on the loop (any thread) and returns its result.</summary>
    public Task<T> InvokeAsync<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfDisposed();
        return Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _taskScheduler).Unwrap();
    }
}
