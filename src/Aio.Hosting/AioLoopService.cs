using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Aio.Hosting;

/// <summary>
/// Owns the host's <see cref="IoThreadGroup"/>: created in <see cref="StartingAsync"/> (before any hosted service
/// starts) or on first use, disposed in <see cref="StoppedAsync"/> (after every hosted service stopped).
/// </summary>
/// <remarks>
/// The host calls every <see cref="IHostedService.StopAsync"/>, in reverse registration order, before any
/// <see cref="IHostedLifecycleService.StoppedAsync"/>, and only for a host that started. So the web host's service
/// (Kestrel, registered before or after this one) has closed and disposed its connections on these loops when they
/// stop. <see cref="StopAsync"/> must therefore stay empty: a plain hosted service registered after Kestrel's would be
/// stopped before it.
/// </remarks>
internal sealed class AioLoopService : IHostedLifecycleService, IAsyncDisposable, IDisposable
{
    private readonly AioHostOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    // The group's loop threads: written when it starts, read by the forwarder on any thread. By thread, not by context
    // name: another IoThread in the process may carry the same name, and its failures must still be forwarded.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _ownThreads = new();
    private AioLogForwarder? _forwarder;
    private IoThreadGroup? _group;
    private bool _stopped;

    /// <param name="options">The loops' configuration.</param>
    /// <param name="loggerFactory">
    /// Where warnings go; optional because <c>AddAio</c> also serves a bare <c>ServiceCollection</c> without logging
    /// (nothing is logged there).
    /// </param>
    public AioLoopService(IOptions<AioHostOptions> options, ILoggerFactory? loggerFactory = null)
    {
        _options = options.Value;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Aio");
    }

    /// <summary>The loops, started on first use.</summary>
    /// <exception cref="ObjectDisposedException">The host stopped them.</exception>
    public IoThreadGroup Group
    {
        get
        {
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_stopped, typeof(IoThreadGroup));
                if (_group is null)
                {
                    // Forward before the loops start, so the warnings of their setup (monitor fallback) are seen.
                    _forwarder ??= new AioLogForwarder(_logger, IsOwnThread);
                    var group = IoThreadGroup.Start(_options.Name, _options.LoopCount, _options.Context);
                    foreach (var thread in group.Threads)
                    {
                        thread.CallbackException += OnCallbackException;
                        _ownThreads[thread.ManagedThreadId] = true;
                    }

                    _group = group;
                }

                return _group;
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        _ = Group;
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's ShutdownTimeout: a loop stuck in a callback would otherwise hold the host's stop for ever (its
            // thread's join is unbounded). The loop threads are background threads: the process can still exit.
            Log.LoopsDidNotStop(_logger);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var (group, forwarder) = TakeForDispose();
        if (group is not null)
        {
            await group.DisposeAsync().ConfigureAwait(false);
        }

        forwarder?.Dispose();
    }

    /// <summary>
    /// For a container disposed synchronously (<c>ServiceProvider.Dispose</c> throws for a singleton that is only
    /// <see cref="IAsyncDisposable"/>): stops the loops and waits for them.
    /// </summary>
    public void Dispose()
    {
        var (group, forwarder) = TakeForDispose();
        group?.Dispose();
        forwarder?.Dispose();
    }

    private (IoThreadGroup? Group, AioLogForwarder? Forwarder) TakeForDispose()
    {
        lock (_lock)
        {
            _stopped = true;
            var taken = (_group, _forwarder);
            _group = null;
            _forwarder = null;
            return taken;
        }
    }

    /// <summary>
    /// A context of this group: its callback failures are logged by <see cref="OnCallbackException"/> (also during the
    /// group's teardown, so the names are never forgotten). Matched by name, the only thing the event carries.
    /// </summary>
    // CallbackFailed is written by IoThread.Report on the loop's own thread, right before the CallbackException
    // subscribers (this service's among them) hear of it.
    private bool IsOwnThread() => _ownThreads.ContainsKey(Environment.CurrentManagedThreadId);

    private void OnCallbackException(IoThread thread, Exception exception) => Log.CallbackException(_logger, exception, thread.Name);
}
