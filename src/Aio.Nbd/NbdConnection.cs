using System.Net.Sockets;
using System.Security.Authentication;
using Aio.Net;

namespace Aio.Nbd;

/// <summary>One client, from greeting to close, on one loop: handshake, options, then transmission.</summary>
internal sealed class NbdConnection
{
    private readonly NbdServer _server;
    private readonly NbdTransport _transport;
    private readonly AioContext _context;

    public NbdConnection(NbdServer server, AioSocket socket)
    {
        _server = server;
        _context = socket.Context;
        _transport = new NbdTransport(socket);
    }

    /// <summary>How long a client still negotiating when the server stops has to send its next option.</summary>
    internal static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(1);

    public AioContext Context => _context;

    public async Task RunAsync(CancellationToken stop)
    {
        var session = new NbdSession();
        try
        {
            bool negotiated;
            using (var handshake = new CancellationTokenSource(_server.Options.HandshakeTimeout))
            {
                // A stop does not cut negotiation off mid-option: for ShutdownGrace the client's options are answered
                // ERR_SHUTDOWN (the protocol's reply to options during a shutdown) and its ABORT acknowledged; then, or
                // at the handshake's deadline if that is sooner, the connection closes.
                long deadline = Environment.TickCount64 + (long)_server.Options.HandshakeTimeout.TotalMilliseconds;
                using var shortened = stop.Register(() =>
                {
                    if (deadline - Environment.TickCount64 > (long)ShutdownGrace.TotalMilliseconds)
                    {
                        handshake.CancelAfter(ShutdownGrace);
                    }
                });
                try
                {
                    negotiated = await NbdHandshake.RunAsync(_transport, session, handshake.Token).ConfigureAwait(true)
                        && await new NbdOptionHaggler(_transport, session, _server.Exports, _server.TlsContext, _server.Options.TlsRequired)
                            .RunAsync(handshake.Token, stop).ConfigureAwait(true);
                }
                catch (Exception ex) when (IsDisconnect(ex))
                {
                    if (ex is OperationCanceledException && !stop.IsCancellationRequested)
                    {
                        _server.Log("client dropped: handshake not finished in time");
                    }

                    negotiated = false;
                }
            }

            if (negotiated)
            {
                var transmission = new NbdTransmission(_transport, session, _context, _server.Options.MaxRequestsInFlight, _server.Options.MaxBytesInFlight, _ => _transport.Socket.Abort(), _server.NoteBudgetWait, _server.Log);
                try
                {
                    await transmission.RunAsync(stop).ConfigureAwait(true);
                }
                finally
                {
                    _server.NoteEnded(transmission);
                }

                await _transport.ShutdownAsync().ConfigureAwait(true);
                if (stop.IsCancellationRequested)
                {
                    // Stopped under a client that may have sent more than was read: linger until it closes (a
                    // well-behaved client does on the FIN), so that the close does not reset away the last replies.
                    await _transport.DrainInputAsync(ShutdownGrace).ConfigureAwait(true);
                }
            }
        }
        catch (Exception ex)
        {
            _server.Log("connection failed: " + ex.Message);
        }
        finally
        {
            try
            {
                await _transport.DisposeAsync().ConfigureAwait(true);
            }
            catch (Exception ex) when (IsDisconnect(ex))
            {
                // Closing a connection the client already reset.
            }
        }
    }

    private static bool IsDisconnect(Exception ex)
        => ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or AuthenticationException or InvalidOperationException;
}
