using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Microsoft.AspNetCore.Connections;

namespace Aio.AspNetCore;

/// <summary>
/// Client connections on Aio loops: <see cref="ConnectAsync"/> connects an <see cref="AioSocket"/> (io_uring CONNECT)
/// on the next loop and returns the same <see cref="ConnectionContext"/> the Aio listener hands Kestrel: an
/// <see cref="System.IO.Pipelines.IDuplexPipe"/> transport filled and drained on that loop, with the connection id,
/// items, memory pool, lifetime, end point and socket features. Registered as <see cref="IConnectionFactory"/> by
/// <see cref="AioConnectionFactoryServiceCollectionExtensions.AddAioConnectionFactory"/>.
/// </summary>
/// <remarks>
/// It shares the Kestrel transport's loops, memory pool and <see cref="AioTransportOptions"/> (scheduling, buffer
/// limits, NoDelay): the host's <see cref="IoThreadGroup"/> when one is registered, otherwise the transport's own
/// group, started on first use. Closing behaves as on the server: completing the transport's output sends FIN,
/// <see cref="ConnectionContext.Abort()"/> sends RST, and <c>DisposeAsync</c> returns once the
/// kernel let go of every buffer.
/// </remarks>
public sealed class AioConnectionFactory : IConnectionFactory
{
    private readonly AioTransportFactory _transport;

    internal AioConnectionFactory(AioTransportFactory transport) => _transport = transport;

    /// <summary>Connects to <paramref name="endpoint"/> (an <see cref="IPEndPoint"/> or a <see cref="UnixDomainSocketEndPoint"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="endpoint"/> is null.</exception>
    /// <exception cref="NotSupportedException">Another kind of end point.</exception>
    /// <exception cref="InvalidOperationException">The kernel refuses io_uring to this process: there are no Aio loops.</exception>
    /// <exception cref="SocketException">The connection failed, with the error .NET's sockets give (e.g. <see cref="SocketError.ConnectionRefused"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the attempt is abandoned.</exception>
    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint is not (IPEndPoint or UnixDomainSocketEndPoint))
        {
            throw new NotSupportedException($"The Aio connection factory connects to IPEndPoint and UnixDomainSocketEndPoint, not {endpoint.GetType().Name}.");
        }

        if (!_transport.TryGetLoops(out var loops, out var pool))
        {
            throw new InvalidOperationException("The Aio connection factory is unavailable: this process has no io_uring.");
        }

        var loop = loops.Next();
        var socket = await AioSocket.ConnectAsync(loop.Context, endpoint, cancellationToken).ConfigureAwait(false);
        try
        {
            var options = _transport.Options;
            if (endpoint is IPEndPoint && options.NoDelay)
            {
                socket.NoDelay = true;
            }

            var connection = new AioConnection(socket, pool, loop, options, _transport.Logger);
            connection.Start();
            return connection;
        }
        catch
        {
            await socket.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
