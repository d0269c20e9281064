namespace Aio.Net;

/// <summary>
/// The close of a loop-owned socket or listener: requested from any thread (once; a later request of a stronger kind
/// upgrades it until the fd is closed),
/// started on the loop (at once on the home thread, else through a bottom half; where the loop is already gone, on the
/// caller's thread), and finished when the owner says the kernel let go. <see cref="Task"/> completes then.
/// </summary>
internal sealed class LoopClose
{
    /// <summary>Bounds a synchronous Dispose's wait; past it the close goes on without the caller.</summary>
    private static readonly TimeSpan s_syncDisposeLimit = TimeSpan.FromSeconds(30);

    private readonly AioContext _context;
    private readonly Action _start;
    private readonly string _name;
    private BottomHalf? _bottomHalf;
    private TaskCompletionSource? _done;
    private int _request;

    public LoopClose(AioContext context, Action start, string name)
    {
        _context = context;
        _start = start;
        _name = name;
    }

    /// <summary>The kind of close requested (0: none yet; the strongest asked for so far).</summary>
    public int Request => Volatile.Read(ref _request);

    /// <summary>The close has started on the loop (loop thread).</summary>
    public bool Started { get; private set; }

    /// <summary>The close has finished (loop thread).</summary>
    public bool Finished { get; private set; }

    /// <summary>
    /// A synchronous Dispose: requests the close and, where blocking cannot deadlock, waits until it finished, so that
    /// the fd is closed (the port free, a Unix socket's file gone) when Dispose returns, as with <c>Socket</c>. That is
    /// where an <see cref="IoThread"/> runs the loop and the caller is no loop's thread; elsewhere (on a loop, or a loop
    /// that the caller may be the one to run) the close finishes later, on the loop.
    /// </summary>
    public void RequestCloseAndWaitWhereSafe(int how)
    {
        // Not once the context is disposed: the close then runs at the end of the teardown, which may be this very
        // thread's (a continuation the teardown resumed inline), and would wait for itself.
        var done = RequestClose(how);
        if (!done.IsCompleted && AioContext.Current is null && _context.RunByIoThread && !_context.IsOnHomeThread && !_context.IsDisposed)
        {
            done.Wait(s_syncDisposeLimit);
        }
    }

    /// <summary>Requests a close of kind <paramref name="how"/> (non-zero); returns the task that completes when it finished. Any thread.</summary>
    public Task RequestClose(int how)
    {
        if (_done is null)
        {
            Interlocked.CompareExchange(ref _done, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
        }

        int earlier = Interlocked.CompareExchange(ref _request, how, 0);
        if (earlier != 0)
        {
            // A stronger kind (an abort after a graceful close) upgrades the request: the owner looks at Request again
            // when it closes the fd, so a close still waiting for the kernel resets instead.
            if (how > earlier)
            {
                Interlocked.CompareExchange(ref _request, how, earlier);
            }

            return _done.Task;
        }

        if (_context.IsDisposed)
        {
            // Also on the home thread: a continuation the teardown runs inline (an abandoned operation's) may close a
            // socket whose own requests the teardown has not ended yet.
            StartAfterTeardown();
        }
        else if (_context.IsOnHomeThread)
        {
            Start();
        }
        else
        {
            try
            {
                // Made here, by the one thread that won the request: a connection closed on its loop never needs it.
                // Abandoned (the context disposed before it ran), the close starts after the teardown instead.
                _bottomHalf = _context.CreateBottomHalf(Start, _name, StartAfterTeardown);
                _bottomHalf.Schedule();
            }
            catch (ObjectDisposedException)
            {
                StartAfterTeardown();
            }
        }

        return _done.Task;
    }

    /// <summary>Loop thread: true once, when the close has started and may finish now.</summary>
    public bool TryFinish()
    {
        if (!Started || Finished)
        {
            return false;
        }

        Finished = true;
        Volatile.Read(ref _bottomHalf)?.Dispose();
        return true;
    }

    /// <summary>Completes <see cref="RequestClose"/>'s task (after the owner closed its fd).</summary>
    public void Complete() => _done!.TrySetResult();

    /// <summary>
    /// The loop is gone: the close starts once the context's teardown ended every kernel request (on this thread if it
    /// has, else on the disposing thread at its end; before that, the teardown may still be ending this very owner's
    /// requests on the loop's behalf).
    /// </summary>
    private void StartAfterTeardown() => _context.RunAfterTeardown(Start);

    private void Start()
    {
        if (Started)
        {
            return;
        }

        Started = true;
        _start();
    }
}
