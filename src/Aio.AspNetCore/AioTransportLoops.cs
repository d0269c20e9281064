namespace Aio.AspNetCore;

/// <summary>The transport's loops: an <see cref="IoThreadGroup"/> and one <see cref="LoopPipeScheduler"/> per loop.</summary>
internal sealed class AioTransportLoops : IAsyncDisposable
{
    private readonly IoThreadGroup _group;
    private readonly LoopPipeScheduler[] _schedulers;
    private int _next = -1;

    private AioTransportLoops(IoThreadGroup group)
    {
        _group = group;
        _schedulers = new LoopPipeScheduler[group.Threads.Count];
        for (int i = 0; i < _schedulers.Length; i++)
        {
            _schedulers[i] = new LoopPipeScheduler(group.Threads[i].Context);
        }
    }

    public IoThreadGroup Group => _group;

    /// <summary>The loop listeners accept on.</summary>
    public AioContext AcceptContext => _group.Threads[0].Context;

    /// <summary>
    /// Starts the loops, or returns null with the reason when the kernel refuses io_uring to them (the transport then
    /// binds nothing, and Kestrel's Sockets transport serves).
    /// </summary>
    public static AioTransportLoops? TryStart(AioTransportOptions options, Action<IoThread, Exception> onCallbackException, out string? reason)
    {
        var group = IoThreadGroup.Start("aio-kestrel", options.EffectiveLoopCount, options.ContextOptions);
        foreach (var thread in group.Threads)
        {
            if (!thread.Context.HasIoUring)
            {
                reason = $"the loop uses the {thread.Context.Monitor} monitor";
                group.Dispose();
                return null;
            }

            thread.CallbackException += onCallbackException;
        }

        reason = null;
        return new AioTransportLoops(group);
    }

    /// <summary>The next connection's loop, round robin.</summary>
    public LoopPipeScheduler Next()
    {
        uint n = (uint)Interlocked.Increment(ref _next);
        return _schedulers[n % (uint)_schedulers.Length];
    }

    public ValueTask DisposeAsync() => _group.DisposeAsync();
}
