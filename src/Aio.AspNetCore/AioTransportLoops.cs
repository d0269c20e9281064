namespace Aio.AspNetCore;

/// <summary>
/// The transport's loops: an <see cref="IoThreadGroup"/> and one <see cref="LoopPipeScheduler"/> per loop. The group is
/// either the transport's own (started here, disposed here) or the host's (registered by <c>Aio.Hosting</c>'s
/// <c>AddAio</c>: borrowed, never disposed here; only the transport's bottom halves on it are released).
/// </summary>
internal sealed class AioTransportLoops : IAsyncDisposable
{
    private readonly IoThreadGroup _group;
    private readonly bool _ownsGroup;
    private readonly LoopPipeScheduler[] _schedulers;
    private int _next = -1;

    private AioTransportLoops(IoThreadGroup group, bool ownsGroup)
    {
        _group = group;
        _ownsGroup = ownsGroup;
        _schedulers = new LoopPipeScheduler[group.Threads.Count];
        for (int i = 0; i < _schedulers.Length; i++)
        {
            _schedulers[i] = new LoopPipeScheduler(group.Threads[i].Context);
        }
    }

    public IoThreadGroup Group => _group;

    /// <summary>Whether the group was started by the transport (and is disposed with it).</summary>
    public bool OwnsGroup => _ownsGroup;

    /// <summary>The loop listeners accept on.</summary>
    public AioContext AcceptContext => _group.Threads[0].Context;

    /// <summary>
    /// Starts the loops, or returns null with the reason when the kernel refuses io_uring to them (the transport then
    /// binds nothing, and Kestrel's Sockets transport serves).
    /// </summary>
    public static AioTransportLoops? TryStart(AioTransportOptions options, Action<IoThread, Exception> onCallbackException, Action<AioContext, AioWarning> onWarning, out string? reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            // Kestrel's Sockets transport serves there (the loops would throw PlatformNotSupportedException).
            reason = "Aio runs on Linux only";
            return null;
        }

        IoThreadGroup group;
        try
        {
            // With its poll ceiling in force before anything is accepted.
            group = IoThreadGroup.Start("aio-kestrel", options.EffectiveLoopCount, options.ContextOptions, options.PollMaxNs);
        }
        catch (Exception ex) when (ex is AioException or PlatformNotSupportedException)
        {
            // A loop that cannot start (io_uring demanded and refused, a later loop refused the ring the first one got,
            // no fds left, an architecture Aio has no layouts for) is a transport that cannot serve: Sockets serves,
            // as when the kernel has no io_uring, instead of Kestrel failing to start.
            reason = ex.Message;
            return null;
        }

        reason = WhyUnusable(group);
        if (reason is not null)
        {
            group.Dispose();
            return null;
        }

        foreach (var thread in group.Threads)
        {
            thread.CallbackException += onCallbackException;

            // Its own loops' warnings (a stalled loop above all: in Loop mode the application's code runs there) go
            // to the transport's logger. A borrowed group's owner logs its own (AddAio does).
            thread.Context.Warning += onWarning;
        }

        return new AioTransportLoops(group, ownsGroup: true);
    }

    /// <summary>
    /// Serves on the host's group, or returns null with the reason when one of its loops has no io_uring. Borrowed: its
    /// owner reports its callback exceptions and stops it; the transport never disposes it.
    /// </summary>
    public static AioTransportLoops? TryBorrow(IoThreadGroup group, out string? reason)
    {
        reason = WhyUnusable(group);
        return reason is null ? new AioTransportLoops(group, ownsGroup: false) : null;
    }

    /// <summary>Every loop's scheduler, in the group's order.</summary>
    public IReadOnlyList<LoopPipeScheduler> Schedulers => _schedulers;

    /// <summary>The next connection's loop, round robin.</summary>
    public LoopPipeScheduler Next()
    {
        uint n = (uint)Interlocked.Increment(ref _next);
        return _schedulers[n % (uint)_schedulers.Length];
    }

    /// <summary>
    /// Disposes an owned group (a borrowed one is its owner's), then deletes the transport's bottom halves and runs
    /// what is still queued on the thread pool: a pipe continuation posted while an owned loop was stopping (in Loop
    /// mode every resume of a send pump is posted) would otherwise be dropped with the loop, and the connection's
    /// <c>DisposeAsync</c>, which waits for that pump, would never end.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsGroup)
        {
            await _group.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var scheduler in _schedulers)
        {
            scheduler.Dispose();
        }
    }

    private static string? WhyUnusable(IoThreadGroup group)
    {
        foreach (var thread in group.Threads)
        {
            if (!thread.Context.HasIoUring)
            {
                return $"the loop {thread.Name} uses the {thread.Context.Monitor} monitor";
            }

            if (!thread.Context.SocketsUseRing)
            {
                // An older kernel (before 5.6): the sockets would work on readiness, no faster than Sockets.
                return $"the loop {thread.Name}'s io_uring lacks the socket operations (ACCEPT, CONNECT, RECV, SEND, SENDMSG, ASYNC_CANCEL)";
            }
        }

        return null;
    }
}
