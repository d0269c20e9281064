using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Aio.AspNetCore;

/// <summary>
/// One bound end point: an <see cref="AioListener"/> accepting on the first loop and handing each connection to the
/// next loop round robin. SO_REUSEADDR only, so a port held by anyone (another Aio server included) fails the bind
/// with <see cref="AddressInUseException"/>.
/// </summary>
internal sealed class AioConnectionListener : IConnectionListener
{
    private readonly AioListener _listener;
    private readonly AioTransportLoops _loops;
    private readonly MemoryPool<byte> _pool;
    private readonly AioTransportOptions _options;
    private readonly ILogger _logger;
    private readonly AcceptFailures _failures;
    private int _unbound;

    private AioConnectionListener(AioListener listener, AioTransportLoops loops, MemoryPool<byte> pool, AioTransportOptions options, ILogger logger)
    {
        _listener = listener;
        _loops = loops;
        _pool = pool;
        _options = options;
        _logger = logger;
        _failures = new AcceptFailures(logger, listener.LocalEndPoint.ToString() ?? string.Empty);
    }

    public EndPoint EndPoint => _listener.LocalEndPoint;

    public static AioConnectionListener Bind(EndPoint endPoint, AioTransportLoops loops, MemoryPool<byte> pool, AioTransportOptions options, ILogger logger)
    {
        AioListener listener;
        try
        {
            // TCP_NODELAY on the listener: every accepted connection inherits it, no setsockopt(2) per connection.
            listener = AioListener.Bind(loops.AcceptContext, endPoint, Math.Max(1, options.Backlog), reusePort: false, noDelay: options.NoDelay);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(ex.Message, ex);
        }

        return new AioConnectionListener(listener, loops, pool, options, logger);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _unbound) == 0)
        {
            var loop = _loops.Next();
            AioSocket socket;
            try
            {
                socket = await _listener.AcceptAsync(loop.Context, cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // Unbound or disposed: Kestrel's accept loop ends on null. Or a loop was disposed under a bound listener
                // (its group stopped before Kestrel): nobody will accept again, so the port is closed now rather than at
                // Kestrel's unbind, and clients are refused instead of queued in the backlog with nobody to serve them.
                if (Volatile.Read(ref _unbound) == 0)
                {
                    await _listener.DisposeAsync().ConfigureAwait(false);
                }

                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.OperationAborted)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // The peer gave up before we accepted: not our problem.
                continue;
            }
            catch (SocketException ex)
            {
                // EMFILE at the fd limit and the like: Kestrel's accept loop would end for good on the exception.
                await _failures.OnFailureAsync(ex, cancellationToken).ConfigureAwait(false);
                continue;
            }

            _failures.OnSuccess();
            if (TryStart(socket, loop, _pool, _options, _logger, EndPoint) is { } connection)
            {
                return connection;
            }
        }

        return null;
    }

    /// <summary>
    /// Makes an accepted socket a started connection on <paramref name="loop"/>; null (the socket reset) when the peer
    /// went away between accept and setup: an exception out of AcceptAsync would end Kestrel's accept loop for good.
    /// TCP_NODELAY is not set here: the socket inherited it from its listener.
    /// </summary>
    internal static AioConnection? TryStart(AioSocket socket, LoopPipeScheduler loop, MemoryPool<byte> pool, AioTransportOptions options, ILogger logger, EndPoint endPoint)
    {
        try
        {
            var connection = new AioConnection(socket, pool, loop, options, logger);
            connection.Start();
            return connection;
        }
        catch (Exception ex)
        {
            Log.AcceptFailed(logger, ex, endPoint.ToString() ?? string.Empty);
            socket.Abort();
            return null;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Volatile.Write(ref _unbound, 1);
        return _listener.DisposeAsync();
    }

    public ValueTask DisposeAsync() => UnbindAsync();
}
