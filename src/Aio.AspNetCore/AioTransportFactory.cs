using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Aio.AspNetCore;

/// <summary>
/// Kestrel's entry point: binds <see cref="IPEndPoint"/>s and <see cref="UnixDomainSocketEndPoint"/>s on Aio loops.
/// Where io_uring is unavailable <see cref="CanBind"/> says no to everything (logged once), and Kestrel's own
/// Sockets transport serves.
/// </summary>
/// <remarks>
/// The loops are the host's <see cref="IoThreadGroup"/> when the service provider has one (Aio.Hosting's <c>AddAio</c>
/// registers it; resolved by type, so this assembly does not reference Aio.Hosting), else a group of the transport's
/// own. A borrowed group is never disposed here: its owner stops it, and AddAio does so only after every hosted
/// service stopped, so after Kestrel closed and disposed its connections.
/// </remarks>
internal sealed class AioTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector, IAsyncDisposable
{
    private readonly AioTransportOptions _options;
    private readonly ILogger _logger;
    private readonly IMemoryPoolFactory<byte>? _poolFactory;
    private readonly IServiceProvider? _services;
    private readonly Lock _lock = new();
    private AioTransportLoops? _loops;
    private MemoryPool<byte>? _pool;
    private bool _probed;
    private bool _disposed;

    public AioTransportFactory(IOptions<AioTransportOptions> options, ILoggerFactory loggerFactory, IMemoryPoolFactory<byte>? poolFactory = null, IServiceProvider? services = null)
    {
        _services = services;
        _options = options.Value;
        _logger = loggerFactory.CreateLogger("Aio.AspNetCore");
        _poolFactory = poolFactory;
    }

    /// <summary>The options every connection of this transport is made with, served or dialled.</summary>
    internal AioTransportOptions Options => _options;

    internal ILogger Logger => _logger;

    /// <summary>
    /// The loops and the memory pool, started (or borrowed) on first use, for the listeners and for
    /// <see cref="AioConnectionFactory"/>; false when io_uring is unavailable.
    /// </summary>
    internal bool TryGetLoops(out AioTransportLoops loops, out MemoryPool<byte> pool)
    {
        var found = GetLoops();
        loops = found!;
        pool = _pool!;
        return found is not null;
    }

    public bool CanBind(EndPoint endpoint) =>
        endpoint is IPEndPoint or UnixDomainSocketEndPoint && GetLoops() is not null;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint is not (IPEndPoint or UnixDomainSocketEndPoint))
        {
            throw new NotSupportedException($"The Aio transport binds IPEndPoint and UnixDomainSocketEndPoint, not {endpoint.GetType().Name}.");
        }

        var loops = GetLoops() ?? throw new InvalidOperationException("The Aio transport is unavailable: this process has no io_uring.");
        IConnectionListener listener = _options.ListenerPerLoop && endpoint is IPEndPoint ip && loops.Schedulers.Count > 1
            ? AioReusePortListener.Bind(ip, loops, _pool!, _options, _logger)
            : AioConnectionListener.Bind(endpoint, loops, _pool!, _options, _logger);
        return new ValueTask<IConnectionListener>(listener);
    }

    public async ValueTask DisposeAsync()
    {
        AioTransportLoops? loops;
        lock (_lock)
        {
            _disposed = true;
            loops = _loops;
            _loops = null;
        }

        if (loops is not null)
        {
            await loops.DisposeAsync().ConfigureAwait(false);
        }

        _pool?.Dispose();
    }

    private AioTransportLoops? GetLoops()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_probed)
            {
                return _loops;
            }

            _probed = true;

            // Resolved on the first bind, not in the constructor: AddAio's group starts lazily, and only a transport
            // that binds should start it.
            string? reason;
            _loops = _services?.GetService(typeof(IoThreadGroup)) is IoThreadGroup shared
                ? AioTransportLoops.TryBorrow(shared, out reason)
                : AioTransportLoops.TryStart(_options, OnCallbackException, OnWarning, out reason);
            if (_loops is null)
            {
                Log.IoUringUnavailable(_logger, reason!);
                return null;
            }

            // Kestrel registers the pool factory; a client-only host (AddAioConnectionFactory without Kestrel) has none
            // and uses the shared pool, whose Dispose does nothing.
            _pool = _poolFactory?.Create(new MemoryPoolOptions { Owner = "aio" }) ?? MemoryPool<byte>.Shared;
            Log.LoopsStarted(_logger, _loops.Group.Threads.Count, _options.Scheduling, _loops.OwnsGroup ? "its own" : "the host's");
            if (!_loops.OwnsGroup && (_options.LoopCount != 0 || _options.PollMaxNs is not null))
            {
                // Set and silently ignored would look like a setting that does nothing.
                Log.LoopOptionsUnused(_logger, _options.PollMaxNs is null ? "LoopCount" : _options.LoopCount == 0 ? "PollMaxNs" : "LoopCount and PollMaxNs");
            }

            return _loops;
        }
    }

    private void OnCallbackException(IoThread thread, Exception exception) => Log.CallbackException(_logger, exception, thread.Name);

    private void OnWarning(AioContext context, AioWarning warning) => Log.LoopWarning(_logger, warning.EventName, warning.Message);
}
