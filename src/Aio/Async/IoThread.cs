using Aio.Diagnostics;

namespace Aio;

/// <summary>
/// A context on a thread of its own (QEMU <c>IOThread</c>): the thread creates the context (so the ring is owned and
/// enabled there) and runs <c>Poll(true)</c> until disposed, or until its context is disposed.
/// </summary>
public sealed class IoThread : IDisposable, IAsyncDisposable
{
    /// <summary>QEMU's default poll-max-ns for an IOThread.</summary>
    public const long DefaultPollMaxNs = 32768;

    /// <summary>Bound on the iterations of the drain at stop: work that keeps rescheduling itself must not hold Dispose forever.</summary>
    private const int MaxDrainIterations = 10_000;

    private readonly Thread _thread;
    private readonly AioContext _context;
    private volatile bool _stopping;
    private volatile Action? _betweenIterations;

    private IoThread(string name, AioContextOptions options)
    {
        AioContext? created = null;
        Exception? failure = null;
        using var ready = new ManualResetEventSlim();
        _thread = new Thread(() =>
        {
            try
            {
                created = AioContext.Create(options);
                created.BindAsIoThread();
            }
            catch (Exception ex)
            {
                failure = ex;

                // A context created but not bound (the ring could not be enabled) is nobody's: close its fds and give
                // back its io_uring slot, or every later context without io_uring would be refused.
                try
                {
                    created?.Dispose();
                }
                catch (Exception disposeFailure)
                {
                    failure = new AggregateException(ex, disposeFailure);
                }

                return;
            }
            finally
            {
                ready.Set();
            }

            Run(created);
        })
        {
            Name = name,
            IsBackground = true,
        };
        // Not the creator's ExecutionContext: every raw callback of the loop (fd handlers, timers, completions, bottom
        // halves) would run for the thread's whole life under the AsyncLocals of whoever started it (an Activity, a
        // logging scope of the request that happened to start a lazily created group).
        _thread.UnsafeStart();
        ready.Wait();
        if (failure is not null)
        {
            _thread.Join();
            throw failure;
        }

        _context = created!;
    }

    /// <summary>Raised on the IoThread when a callback throws; the thread reports it and keeps serving.</summary>
    public event Action<IoThread, Exception>? CallbackException;

    /// <summary>The context this thread runs.</summary>
    public AioContext Context => _context;

    /// <summary>The thread's name.</summary>
    public string Name => _thread.Name!;

    /// <summary>
    /// The thread's <see cref="Thread.ManagedThreadId"/>: tells this loop's thread apart from others of the same name
    /// (an <see cref="System.Diagnostics.Tracing.EventListener"/> hears events on the thread that wrote them).
    /// </summary>
    public int ManagedThreadId => _thread.ManagedThreadId;

    /// <summary>
    /// Starts a thread named <paramref name="name"/> running a new context. <see cref="AioContextOptions.PollMaxNs"/> 0
    /// (the default) means <see cref="DefaultPollMaxNs"/> here; call <c>Context.SetPollParameters(0, 0, 0)</c> to turn
    /// polling off.
    /// </summary>
    /// <exception cref="AioException">The context could not be created.</exception>
    public static IoThread Start(string name, AioContextOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new AioContextOptions();
        options = options with
        {
            Name = options.Name ?? name,
            PollMaxNs = options.PollMaxNs == 0 ? DefaultPollMaxNs : options.PollMaxNs,

            // The thread is the context's own and disposes it before it exits: its ring fd registration never leaks.
            RegisterRingFd = true,
        };
        return new IoThread(name, options);
    }

    /// <summary>
    /// Stops the loop and disposes the context like <see cref="Dispose"/>, joining the thread off the caller's thread
    /// (a join blocks); from the IoThread itself it only asks the loop to stop.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Thread.CurrentThread == _thread)
        {
            Dispose();
            return default;
        }

        return new ValueTask(Task.Run(Dispose));
    }

    /// <summary>
    /// Stops the loop, joins the thread and disposes the context, whatever state the context is in (already disposed
    /// by a callback included). The loop first drains: it keeps running non-blocking iterations while they make
    /// progress (bounded), so that work queued before Dispose runs; what is still queued after that fails with
    /// <see cref="ObjectDisposedException"/> (see <see cref="AioContext.Dispose"/>). From the thread itself it only
    /// asks the loop to stop.
    /// </summary>
    public void Dispose()
    {
        // Every caller off the thread joins, not only the first: a second Dispose (or the first, made by the loop's
        // own callback, which only asks) must not return while the loop is still draining and the context alive.
        RequestStop();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    /// <summary>
    /// Asks the loop to stop and returns at once: the loop drains and disposes its context as for
    /// <see cref="Dispose"/>, which a caller still makes to join the thread. A group asks every loop first, so that
    /// one stuck in a callback does not keep the others running while it is joined.
    /// </summary>
    internal void RequestStop()
    {
        _stopping = true;
        if (Thread.CurrentThread == _thread)
        {
            return;
        }

        try
        {
            // The volatile write above comes first: a loop woken by this, or one not yet asleep (Notify's protocol),
            // sees _stopping when Poll returns.
            _context.Notify();
        }
        catch (ObjectDisposedException)
        {
            // A callback disposed the context: the loop has ended (or is ending) by itself.
        }
    }

    /// <summary>
    /// For tests: runs on the loop thread after each iteration, outside any Poll (where a foreign Dispose is accepted).
    /// </summary>
    internal Action? BetweenIterationsForTests
    {
        set => _betweenIterations = value;
    }

    private void Run(AioContext context)
    {
        while (!_stopping && !context.IsDisposed)
        {
            try
            {
                context.Poll(true);
            }
            catch (Exception ex)
            {
                // Once the context is disposed (by a callback, or by another thread between two iterations) there is
                // no loop left to serve: that is the end of the thread, not a callback failure.
                if (context.IsDisposed)
                {
                    break;
                }

                Report(context, ex);
            }

            _betweenIterations?.Invoke();
        }

        Drain(context);
        try
        {
            context.Dispose();
        }
        catch (Exception ex)
        {
            // Nobody could catch it on this thread: report it like a callback failure rather than end the process.
            Report(context, ex);
        }
    }

    /// <summary>Runs what was queued before the stop: non-blocking iterations until one makes no progress (bounded).</summary>
    private void Drain(AioContext context)
    {
        for (int i = 0; i < MaxDrainIterations && !context.IsDisposed; i++)
        {
            try
            {
                if (!context.Poll(false))
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                if (context.IsDisposed)
                {
                    return;
                }

                Report(context, ex);
            }
        }
    }

    private void Report(AioContext context, Exception ex)
    {
        var handlers = CallbackException;
        AioEventSource.Log.CallbackFailed(context.Name, ex.ToString(), ownerReports: handlers is not null);
        if (handlers is null)
        {
            return;
        }

        // Each subscriber on its own: one that throws (a logger that failed) must neither end this thread, and with it
        // the process, nor keep the others from hearing of the failure.
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((Action<IoThread, Exception>)handler)(this, ex);
            }
            catch (Exception handlerFailure)
            {
                AioEventSource.Log.CallbackFailed(context.Name, "a CallbackException handler threw: " + handlerFailure);
            }
        }
    }
}
