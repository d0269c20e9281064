namespace Aio;

// Driving the loop by hand on the calling thread: Run and RunUntil(ValueTask).
public sealed partial class AioContext
{
    /// <summary>
    /// Runs the loop on the calling thread, which becomes the context's home thread, until
    /// <paramref name="cancellationToken"/> is cancelled (from any thread: a sleeping loop is woken) or a callback
    /// disposes the context. It is <c>while (!cancelled) Poll(true);</c> plus the wake-up, for a program that gives a
    /// thread of its own to the loop without an <see cref="IoThread"/> (the main thread of a service, for example).
    /// </summary>
    /// <remarks>
    /// <para>Cancellation stops the loop after the iteration in progress; work still queued stays queued (a later
    /// <see cref="Poll(bool)"/> or <c>Run</c> on this thread runs it). A token cancelled already returns at once, and
    /// binds nothing.</para>
    /// <para>An exception thrown by a callback propagates out of <c>Run</c> (as out of <see cref="Poll(bool)"/>); the
    /// context stays usable and <c>Run</c> may be called again.</para>
    /// </remarks>
    /// <param name="cancellationToken">Stops the loop when cancelled.</param>
    /// <exception cref="InvalidOperationException">
    /// Another thread owns the loop (it polled first, or it is an <see cref="IoThread"/>'s), or the call comes from
    /// inside the loop (a callback): the loop is running already. Nothing changed.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The context was disposed.</exception>
    public void Run(CancellationToken cancellationToken)
    {
        ThrowIfCannotRun(nameof(Run));
        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        // NotifyWork, not Notify: never throws once disposed, and from a callback on this thread (the loop is awake)
        // it does nothing; the loop checks the token when that iteration returns.
        using var registration = cancellationToken.UnsafeRegister(static s => ((AioContext)s!).NotifyWork(), this);
        while (!cancellationToken.IsCancellationRequested && !IsDisposed)
        {
            Poll(blocking: true);
        }
    }

    /// <summary>
    /// Runs the loop on the calling thread, which becomes the context's home thread, until <paramref name="task"/> has
    /// completed, then returns (or throws its exception). For code that drives a loop by hand:
    /// <c>ctx.RunUntil(ctx.ReadAsync(file, buffer, 0))</c> in a console program or a test.
    /// </summary>
    /// <remarks>
    /// <para>The task may complete on the loop (a ring operation, work started with <see cref="InvokeAsync(Func{Task})"/>)
    /// or on any other thread: its completion wakes a sleeping loop.</para>
    /// <para>An exception thrown by a loop callback propagates out of <c>RunUntil</c> (as out of
    /// <see cref="Poll(bool)"/>), and the ValueTask counts as consumed (a ValueTask may be awaited once): pass a
    /// <see cref="Task"/> to <see cref="RunUntil(Task)"/> to be able to continue after such a failure.</para>
    /// </remarks>
    /// <param name="task">The operation to wait for.</param>
    /// <exception cref="InvalidOperationException">
    /// Another thread owns the loop, or the call comes from inside the loop (a callback): await the task there instead.
    /// Nothing changed.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The context was disposed, or a callback disposed it before <paramref name="task"/> completed.
    /// </exception>
    public void RunUntil(ValueTask task)
    {
        ThrowIfCannotRun(nameof(RunUntil));
        if (!task.IsCompleted)
        {
            var completion = new RunUntilCompletion(this);
            task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(completion.Signal);
            WaitFor(completion);
        }

        task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Runs the loop on the calling thread until <paramref name="task"/> has completed and returns its result (or throws
    /// its exception); see <see cref="RunUntil(ValueTask)"/>.
    /// </summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="task">The operation to wait for.</param>
    /// <returns>The task's result.</returns>
    /// <exception cref="InvalidOperationException">Another thread owns the loop, or the call comes from inside the loop. Nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The context was disposed, or a callback disposed it before <paramref name="task"/> completed.</exception>
    public T RunUntil<T>(ValueTask<T> task)
    {
        ThrowIfCannotRun(nameof(RunUntil));
        if (!task.IsCompleted)
        {
            var completion = new RunUntilCompletion(this);
            task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(completion.Signal);
            WaitFor(completion);
        }

        return task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Runs the loop on the calling thread until <paramref name="task"/> has completed, then returns (or throws its
    /// exception); see <see cref="RunUntil(ValueTask)"/>. Unlike a ValueTask, the task may be run for again after a
    /// callback's exception interrupted the loop.
    /// </summary>
    /// <param name="task">The task to wait for (for example one <see cref="InvokeAsync(Func{Task})"/> returned).</param>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> is null.</exception>
    /// <exception cref="InvalidOperationException">Another thread owns the loop, or the call comes from inside the loop. Nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The context was disposed, or a callback disposed it before <paramref name="task"/> completed.</exception>
    public void RunUntil(Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        RunUntil(new ValueTask(task));
    }

    /// <summary>
    /// Runs the loop on the calling thread until <paramref name="task"/> has completed and returns its result (or throws
    /// its exception); see <see cref="RunUntil(Task)"/>.
    /// </summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="task">The task to wait for.</param>
    /// <returns>The task's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> is null.</exception>
    /// <exception cref="InvalidOperationException">Another thread owns the loop, or the call comes from inside the loop. Nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The context was disposed, or a callback disposed it before <paramref name="task"/> completed.</exception>
    public T RunUntil<T>(Task<T> task)
    {
        ArgumentNullException.ThrowIfNull(task);
        return RunUntil(new ValueTask<T>(task));
    }

    /// <summary>
    /// The misuse checks of Run and RunUntil, before anything changes: the loop belongs to another thread, or it is
    /// running on this one already (the home thread is inside a section: a Poll level, an outer-loop call, an AddSqe).
    /// </summary>
    private void ThrowIfCannotRun(string method)
    {
        ThrowIfDisposed();
        int home = Volatile.Read(ref _homeThreadId);
        int me = Environment.CurrentManagedThreadId;
        if (home != 0 && home != me)
        {
            throw new InvalidOperationException(
                $"AioContext '{Name}' belongs to thread {home}; {method} was called from thread {me}. Only the loop's own thread runs it: hand work to it with ScheduleOneShot or InvokeAsync, or await its operations.");
        }

        if (home == me && (Volatile.Read(ref _lifecycle) & SectionMask) != 0)
        {
            throw new InvalidOperationException(
                $"AioContext '{Name}': {method} was called from inside its own loop (a callback), which is running already; await instead, or call Poll for one nested iteration.");
        }
    }

    /// <summary>Runs the loop until <paramref name="completion"/>'s continuation ran, or a callback disposed the context.</summary>
    /// <remarks>
    /// The continuation, not IsCompleted: a source reports completion before its completing thread has finished with
    /// it (that thread still looks for the continuation), so taking the result on IsCompleted alone could let the
    /// owner reset and reuse the source while the completing thread reads it.
    /// </remarks>
    private void WaitFor(RunUntilCompletion completion)
    {
        while (!completion.IsSignalled && !IsDisposed)
        {
            Poll(blocking: true);
        }

        if (!completion.IsSignalled)
        {
            throw new ObjectDisposedException(nameof(AioContext), $"AioContext '{Name}' was disposed (by a callback) before the task RunUntil waits for completed.");
        }
    }
}
