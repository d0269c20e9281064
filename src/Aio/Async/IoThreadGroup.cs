namespace Aio;

/// <summary>
/// Several <see cref="IoThread"/>s, one loop per core by default, handed out round robin: a server accepts on one
/// loop and gives each connection to <see cref="Next"/>.
/// </summary>
public sealed class IoThreadGroup : IAsyncDisposable, IDisposable
{
    private readonly IoThread[] _threads;
    private int _next = -1;
    private int _disposed;

    private IoThreadGroup(IoThread[] threads) => _threads = threads;

    /// <summary>The loops, in start order.</summary>
    public IReadOnlyList<IoThread> Threads => _threads;

    /// <summary>
    /// Starts <paramref name="count"/> IoThreads named <c>name-0</c>, <c>name-1</c>, ... (0: one per processor).
    /// If one fails to start, those already started are stopped and the error is thrown.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="AioException">A context could not be created.</exception>
    public static IoThreadGroup Start(string name, int count = 0, AioContextOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            count = Environment.ProcessorCount;
        }

        var threads = new IoThread[count];
        int started = 0;
        try
        {
            for (; started < count; started++)
            {
                string threadName = name + "-" + started.ToString(System.Globalization.CultureInfo.InvariantCulture);
                threads[started] = IoThread.Start(threadName, options is null ? null : options with { Name = options.Name is null ? null : threadName });
            }
        }
        catch
        {
            for (int i = 0; i < started; i++)
            {
                threads[i].Dispose();
            }

            throw;
        }

        return new IoThreadGroup(threads);
    }

    /// <summary>
    /// <see cref="Start(string, int, AioContextOptions?)"/> with an explicit busy-poll ceiling: <paramref name="pollMaxNs"/>
    /// null = the loops' own (<see cref="AioContextOptions.PollMaxNs"/>, 0 there meaning
    /// <see cref="IoThread.DefaultPollMaxNs"/>), 0 = never poll; set before the group is returned, with the options'
    /// <c>PollGrow</c> and <c>PollShrink</c>. The way a host that starts a group offers "polling off".
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> or <paramref name="pollMaxNs"/> is negative.</exception>
    /// <exception cref="AioException">A context could not be created.</exception>
    public static IoThreadGroup Start(string name, int count, AioContextOptions? options, long? pollMaxNs)
    {
        if (pollMaxNs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(pollMaxNs), pollMaxNs, "The poll ceiling must not be negative.");
        }

        var group = Start(name, count, options);
        if (pollMaxNs is { } ns)
        {
            // After the start: an IoThread reads PollMaxNs 0 in its options as "the default".
            try
            {
                group.SetPollParameters(ns, options?.PollGrow ?? 0, options?.PollShrink ?? 0);
            }
            catch
            {
                group.Dispose();
                throw;
            }
        }

        return group;
    }

    /// <summary>
    /// <see cref="AioContext.SetPollParameters"/> on every loop: the way to turn adaptive polling off for a group
    /// (<c>SetPollParameters(0, 0, 0)</c>), since an <see cref="IoThread"/> reads <see cref="AioContextOptions.PollMaxNs"/>
    /// 0 as <see cref="IoThread.DefaultPollMaxNs"/>. Any thread; takes effect within one iteration of each loop.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative (no loop changed).</exception>
    /// <exception cref="ObjectDisposedException">
    /// The group, or one of its loops, was disposed (no loop changed; a loop disposed concurrently with this call may
    /// leave the ones before it changed).
    /// </exception>
    public void SetPollParameters(long maxNs, long grow, long shrink)
    {
        // Checked here, before the first loop changes: a throw from the second loop would leave the group half set.
        ArgumentOutOfRangeException.ThrowIfNegative(maxNs);
        ArgumentOutOfRangeException.ThrowIfNegative(grow);
        ArgumentOutOfRangeException.ThrowIfNegative(shrink);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        foreach (var thread in _threads)
        {
            ObjectDisposedException.ThrowIf(thread.Context.IsDisposed, thread.Context);
        }

        foreach (var thread in _threads)
        {
            thread.Context.SetPollParameters(maxNs, grow, shrink);
        }
    }

    /// <summary>The next loop, round robin; exactly balanced across callers on any threads.</summary>
    /// <exception cref="ObjectDisposedException">The group was disposed.</exception>
    public IoThread Next()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        uint n = (uint)Interlocked.Increment(ref _next);
        return _threads[n % (uint)_threads.Length];
    }

    /// <summary>Stops and joins every loop (each first ends its in-flight ring operations).</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return default;
        }

        // Joining blocks: do it off the caller's thread, which may be one of the loops' callers.
        return new ValueTask(Task.Run(DisposeThreads));
    }

    /// <summary>
    /// Stops and joins every loop. Only the first call does: a later one (a container disposing the group after the
    /// host's stop gave up on a loop stuck in a callback) returns at once rather than wait for that loop too.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            DisposeThreads();
        }
    }

    private void DisposeThreads()
    {
        // Every loop is asked before any is joined: a loop stuck in a callback must not keep the ones after it running
        // (their rings, threads and sockets) while its join waits.
        foreach (var thread in _threads)
        {
            thread.RequestStop();
        }

        List<Exception>? errors = null;
        foreach (var thread in _threads)
        {
            try
            {
                thread.Dispose();
            }
            catch (Exception ex)
            {
                (errors ??= []).Add(ex);
            }
        }

        if (errors is not null)
        {
            throw new AggregateException("Some IoThreads failed to stop.", errors);
        }
    }
}
