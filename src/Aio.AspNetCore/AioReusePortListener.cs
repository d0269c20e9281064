using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Aio.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Aio.AspNetCore;

/// <summary>
/// One bound TCP end point as one SO_REUSEPORT listener per loop (<see cref="AioTransportOptions.ListenerPerLoop"/>):
/// the kernel spreads incoming connections over the listeners, each loop accepts its own and serves them itself, and
/// Kestrel's single accept loop takes the started connections from a channel. No connection changes loop.
/// </summary>
/// <remarks>
/// SO_REUSEPORT would also let this server share a port with another process of the same user that set it: before
/// binding, a probe socket without it binds the address, so a port held by anyone fails with
/// <see cref="AddressInUseException"/> as with the single listener. (Between the probe and the first listener another
/// process could still take the port; it would then fail, or share it if it also used SO_REUSEPORT.)
/// </remarks>
internal sealed class AioReusePortListener : IConnectionListener
{
    internal const int SolSocket = 1;     // SOL_SOCKET
    internal const int SoReuseAddr = 2;   // SO_REUSEADDR
    private readonly AioListener[] _listeners;
    private readonly Channel<AioConnection> _accepted;
    private readonly Task[] _acceptLoops;
    private int _unbound;

    private AioReusePortListener(AioListener[] listeners, AioTransportLoops loops, MemoryPool<byte> pool, AioTransportOptions options, ILogger logger)
    {
        _listeners = listeners;
        _accepted = Channel.CreateBounded<AioConnection>(new BoundedChannelOptions(Math.Max(1, options.Backlog)));
        _acceptLoops = new Task[listeners.Length];
        for (int i = 0; i < listeners.Length; i++)
        {
            _acceptLoops[i] = AcceptLoopAsync(listeners[i], loops.Schedulers[i], pool, options, logger);
        }

        _ = CompleteWhenAllEndAsync();
    }

    public EndPoint EndPoint => _listeners[0].LocalEndPoint;

    public static AioReusePortListener Bind(IPEndPoint endPoint, AioTransportLoops loops, MemoryPool<byte> pool, AioTransportOptions options, ILogger logger)
    {
        if (endPoint.Port != 0)
        {
            ThrowIfHeld(endPoint);
        }

        var listeners = new List<AioListener>();
        try
        {
            var port = endPoint;
            foreach (var loop in loops.Schedulers)
            {
                var listener = AioListener.Bind(loop.Context, port, Math.Max(1, options.Backlog), reusePort: true, noDelay: options.NoDelay);
                listeners.Add(listener);

                // Port 0: the first listener's port for the others.
                port = (IPEndPoint)listener.LocalEndPoint;
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            DisposeAll(listeners);
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            DisposeAll(listeners);
            throw;
        }

        return new AioReusePortListener([.. listeners], loops, pool, options, logger);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // Unbound: Kestrel's accept loop ends on null.
            return null;
        }
    }

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _unbound, 1) != 0)
        {
            return;
        }

        // First: an accept loop waiting for room in a full channel ends now, and a pending AcceptAsync returns null.
        _accepted.Writer.TryComplete();
        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        // Accepted and never taken by Kestrel: nobody else will close them.
        while (_accepted.Reader.TryRead(out var connection))
        {
            connection.Abort();
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => UnbindAsync();

    private static void ThrowIfHeld(IPEndPoint endPoint)
    {
        using var probe = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // SO_REUSEADDR alone (a port left in TIME_WAIT is free), set raw: .NET's ReuseAddress sets SO_REUSEPORT too on
        // Linux, and the probe would then share the port with the very listeners it must detect.
        probe.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        try
        {
            probe.Bind(endPoint);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(ex.Message, ex);
        }
    }

    private static void DisposeAll(List<AioListener> listeners)
    {
        foreach (var listener in listeners)
        {
            listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private async Task AcceptLoopAsync(AioListener listener, LoopPipeScheduler loop, MemoryPool<byte> pool, AioTransportOptions options, ILogger logger)
    {
        var failures = new AcceptFailures(logger, listener.LocalEndPoint.ToString() ?? string.Empty);
        while (true)
        {
            AioSocket socket;
            try
            {
                socket = await listener.AcceptAsync(loop.Context, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException || (ex is SocketException s && s.SocketErrorCode == SocketError.OperationAborted))
            {
                // Unbound, or this loop was disposed under a bound listener: either way nobody accepts on it again, so
                // its socket is closed (the kernel then sends this loop's share of new connections to the others, or
                // refuses them) rather than left queueing connections until Kestrel's unbind.
                await listener.DisposeAsync().ConfigureAwait(false);
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // The peer gave up before we accepted.
                continue;
            }
            catch (SocketException ex)
            {
                // EMFILE at the fd limit and the like: this loop's listener stays bound, so it must go on accepting.
                await failures.OnFailureAsync(ex, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            failures.OnSuccess();

            if (AioConnectionListener.TryStart(socket, loop, pool, options, logger, listener.LocalEndPoint) is not { } connection)
            {
                continue;
            }

            try
            {
                // Waits while Kestrel is a backlog behind: the listener's own backlog then pushes back on clients.
                await _accepted.Writer.WriteAsync(connection).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                connection.Abort();
                await connection.DisposeAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    private async Task CompleteWhenAllEndAsync()
    {
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        _accepted.Writer.TryComplete();
    }
}
