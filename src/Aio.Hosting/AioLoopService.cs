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
    /// <summary>How long StoppedAsync waits for the loops when the host's stop token is already cancelled.</summary>
    internal static readonly TimeSpan StopGraceAfterTimeout = TimeSpan.FromSeconds(5);

    private readonly AioHostOptions _options;
    private readonly ILogger _logger;

    /// <summary>The container, to see whose group it resolves (null when constructed outside one).</summary>
    private readonly IServiceProvider? _services;
    private readonly Lock _lock = new();

    /// <summary>Whether this host has a logger: one without (a bare ServiceCollection) never takes other contexts' events.</summary>
    private readonly bool _logs;

    private AioLogForwarder? _forwarder;
    private IoThreadGroup? _group;
    private Task? _stopping;
    private bool _stopped;

    /// <param name="options">The loops' configuration.</param>
    /// <param name="loggerFactory">
    /// Where warnings go; optional because <c>AddAio</c> also serves a bare <c>ServiceCollection</c> without logging
    /// (nothing is logged there).
    /// </param>
    /// <param name="services">The container, whose <see cref="IoThreadGroup"/> must be this service's own.</param>
    public AioLoopService(IOptions<AioHostOptions> options, ILoggerFactory? loggerFactory = null, IServiceProvider? services = null)
    {
        _services = services;
        _options = options.Value;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Aio");
        _logs = loggerFactory is not null;
    }

    /// <summary>For tests: how many times a dispose waited for a stop that StoppedAsync gave up on.</summary>
    internal int GracesGiven { get; private set; }

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
                    // Forward before the loops start, so the warnings of their setup (monitor fallback) are seen; the
                    // names are claimed first for the same reason (those warnings are written before the threads are
                    // known). IoThreadGroup names its loops "{name}-{index}".
                    int count = _options.LoopCount > 0 ? _options.LoopCount : Environment.ProcessorCount;
                    AioEventRouting.Claim(this, Enumerable.Range(0, count).Select(i => _options.Name + "-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)), _logs);
                    _forwarder ??= new AioLogForwarder(_logger, (id, context, ownerReports) => AioEventRouting.Forwards(this, id, context, ownerReports));
                    IoThreadGroup group;
                    try
                    {
                        group = IoThreadGroup.Start(_options.Name, _options.LoopCount, _options.Context, _options.PollMaxNs);
                    }
                    catch
                    {
                        AioEventRouting.Leave(this);
                        throw;
                    }

                    foreach (var thread in group.Threads)
                    {
                        thread.CallbackException += OnCallbackException;
                        AioEventRouting.AddThread(this, thread.ManagedThreadId);
                    }

                    _group = group;
                }

                return _group;
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // AddAio refuses a group registered before it; one registered after it wins resolution, so the application and
        // the transport would use it while this one ran unused beside it. Resolving ours goes through Group and starts
        // it; resolving someone else's leaves ours unstarted.
        if (_services?.GetService(typeof(IoThreadGroup)) is IoThreadGroup resolved && !ReferenceEquals(resolved, Volatile.Read(ref _group)))
        {
            throw new InvalidOperationException("An IoThreadGroup registered after AddAio replaces the host's own: register one or the other.");
        }

        _ = Group;
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        // Kept: a container dispose that comes after a stop given up on waits for it, rather than finding nothing to do.
        var stopping = DisposeAsync().AsTask();
        _stopping = stopping;
        try
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // The host's token is spent already (other services used the whole ShutdownTimeout): healthy loops stop
                // in a moment, and get that moment rather than an error report.
                await stopping.WaitAsync(StopGraceAfterTimeout).ConfigureAwait(false);
            }
            else
            {
                await stopping.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
            // The host's ShutdownTimeout: a loop stuck in a callback would otherwise hold the host's stop for ever (its
            // thread's join is unbounded). The loop threads are background threads: the process can still exit.
            Log.LoopsDidNotStop(_logger);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var (group, forwarder) = TakeForDispose();
        if (group is null && forwarder is null && Interlocked.Exchange(ref _stopping, null) is { IsCompleted: false } stopping)
        {
            // StoppedAsync started the stop and gave up waiting for it: this dispose gives it one more grace, bounded (a
            // loop stuck in a callback must not hold the host's dispose, and so the process's exit, for ever). Taken
            // once: the container disposes this service twice (registered as itself and as a hosted service), and a
            // second grace would double the wait.
            GracesGiven++;
            try
            {
                await stopping.WaitAsync(StopGraceAfterTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            return;
        }

        if (group is not null)
        {
            await group.DisposeAsync().ConfigureAwait(false);
        }

        forwarder?.Dispose();
        if (group is not null || forwarder is not null)
        {
            // Only the call that took them: a second dispose while the first still joins a stuck loop must not let
            // that loop's events pass for another host's.
            AioEventRouting.Leave(this);
        }
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
        if (group is not null || forwarder is not null)
        {
            AioEventRouting.Leave(this);
        }
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

    private void OnCallbackException(IoThread thread, Exception exception) => Log.CallbackException(_logger, exception, thread.Name);
}
