using Aio.Async;

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
    public Task InvokeAsync(Func<Task> work) => InvokeAsync(work, CancellationToken.None);

    /// <summary>Starts <paramref name="work"/> on the loop (any thread) and returns its result.</summary>
    /// <remarks>If the context is disposed before the work started, the task fails with <see cref="ObjectDisposedException"/>.</remarks>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task<T> InvokeAsync<T>(Func<Task<T>> work) => InvokeAsync(work, CancellationToken.None);

    /// <summary>
    /// Starts <paramref name="work"/> on the loop (any thread), unless <paramref name="cancellationToken"/> is cancelled
    /// first; its awaits resume on the loop.
    /// </summary>
    /// <remarks>
    /// If the token is cancelled before the work started, the work never runs and the task is cancelled. Once the work
    /// has started the token does nothing (pass it to the work to cancel what the work does). If the context is
    /// disposed before the work started, the task fails with <see cref="ObjectDisposedException"/>.
    /// </remarks>
    /// <param name="work">The work; it runs on the loop.</param>
    /// <param name="cancellationToken">Cancels the work while it has not started.</param>
    /// <returns>The work's task, or a cancelled or failed task as above.</returns>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task InvokeAsync(Func<Task> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Invoke(new LoopInvocation<Func<Task>, Task>(static w => w(), work, _taskScheduler, Name), cancellationToken).Unwrap();
    }

    /// <summary>
    /// Starts <paramref name="work"/> on the loop (any thread), unless <paramref name="cancellationToken"/> is cancelled
    /// first, and returns its result; see <see cref="InvokeAsync(Func{Task}, CancellationToken)"/>.
    /// </summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work; it runs on the loop.</param>
    /// <param name="cancellationToken">Cancels the work while it has not started.</param>
    /// <returns>The work's task, or a cancelled or failed task.</returns>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task<T> InvokeAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Invoke(new LoopInvocation<Func<Task<T>>, Task<T>>(static w => w(), work, _taskScheduler, Name), cancellationToken).Unwrap();
    }

    /// <summary>
    /// Starts <c>work(state)</c> on the loop (any thread), unless <paramref name="cancellationToken"/> is cancelled
    /// first. With a static lambda, nothing is captured: the state travels with the request, no closure is allocated.
    /// See <see cref="InvokeAsync(Func{Task}, CancellationToken)"/> for cancellation and disposal.
    /// </summary>
    /// <typeparam name="TState">The state's type.</typeparam>
    /// <param name="work">The work; it runs on the loop.</param>
    /// <param name="state">Passed to <paramref name="work"/>.</param>
    /// <param name="cancellationToken">Cancels the work while it has not started.</param>
    /// <returns>The work's task, or a cancelled or failed task.</returns>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task InvokeAsync<TState>(Func<TState, Task> work, TState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Invoke(new LoopInvocation<TState, Task>(work, state, _taskScheduler, Name), cancellationToken).Unwrap();
    }

    /// <summary>
    /// Starts <c>work(state)</c> on the loop (any thread), unless <paramref name="cancellationToken"/> is cancelled
    /// first, and returns its result; see <see cref="InvokeAsync{TState}(Func{TState, Task}, TState, CancellationToken)"/>.
    /// </summary>
    /// <typeparam name="TState">The state's type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="work">The work; it runs on the loop.</param>
    /// <param name="state">Passed to <paramref name="work"/>.</param>
    /// <param name="cancellationToken">Cancels the work while it has not started.</param>
    /// <returns>The work's task, or a cancelled or failed task.</returns>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public Task<TResult> InvokeAsync<TState, TResult>(Func<TState, Task<TResult>> work, TState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Invoke(new LoopInvocation<TState, Task<TResult>>(work, state, _taskScheduler, Name), cancellationToken).Unwrap();
    }

    private Task<TTask> Invoke<TState, TTask>(LoopInvocation<TState, TTask> invocation, CancellationToken cancellationToken)
        where TTask : Task
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TTask>(cancellationToken);
        }

        if (!invocation.TrySchedule(this, cancellationToken))
        {
            ThrowDisposed();
        }

        return invocation.Started;
    }
}
