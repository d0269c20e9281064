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
internal sealed class AioTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector, IAsyncDisposable
{
    private readonly AioTransportOptions _options;
    private readonly ILogger _logger;
    private readonly IMemoryPoolFactory<byte> _poolFactory;
    private readonly Lock _lock = new();
    private AioTransportLoops? _loops;
    private MemoryPool<byte>? _pool;
    private bool _probed;
    private bool _disposed;

    public AioTransportFactory(IOptions<AioTransportOptions> options, ILoggerFactory loggerFactory, IMemoryPoolFactory<byte> poolFactory)
    {
        _options = options.Value;
        _logger = loggerFactory.CreateLogger("Aio.AspNetCore");
        _poolFactory = poolFactory;
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
        var listener = AioConnectionListener.Bind(endpoint, loops, _pool!, _options, _logger);
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
            _loops = AioTransportLoops.TryStart(_options, OnCallbackException, out string? reason);
            if (_loops is null)
            {
                Log.IoUringUnavailable(_logger, reason!);
                return null;
            }

            _pool = _poolFactory.Create(new MemoryPoolOptions { Owner = "aio" });
            Log.LoopsStarted(_logger, _loops.Group.Threads.Count, _options.Scheduling);
            return _loops;
        }
    }

    private void OnCallbackException(IoThread thread, Exception exception) => Log.CallbackException(_logger, exception, thread.Name);
}
