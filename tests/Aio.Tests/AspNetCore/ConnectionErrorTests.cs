using System.Net.Sockets;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// A send that fails with an error that is neither a reset nor the transport's own abort: the connection ends, and the
/// transport logs it at Debug, as Kestrel's Sockets transport does (the Sockets run is the oracle).
/// </summary>
public sealed class ConnectionErrorTests
{
    // <netinet/tcp.h>: IPPROTO_TCP's TCP_USER_TIMEOUT (milliseconds).
    private const int TcpUserTimeout = 18;

    /// <summary>Sets a 1 s TCP_USER_TIMEOUT on the connection, then writes up to 1 GiB; reports how the writes ended.</summary>
    private static async Task StreamAsync(HttpContext context, TaskCompletionSource<Exception?> ended)
    {
        var socket = context.Features.Get<IConnectionSocketFeature>()!.Socket;
        socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeout, BitConverter.GetBytes(1000));
        var chunk = new byte[64 * 1024];
        try
        {
            for (int i = 0; i < 16384 && !context.RequestAborted.IsCancellationRequested; i++)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }

            ended.TrySetResult(null);
        }
        catch (Exception ex)
        {
            ended.TrySetResult(ex);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task A_send_that_times_out_ends_the_connection_and_is_logged_at_Debug(TransportKind kind)
    {
        // The kernel's own fault, for real: the client stops reading, the server's data fills both socket buffers, and
        // TCP probes the zero window. Loopback answers every probe, but TCP_USER_TIMEOUT also bounds how long a
        // connection may stall on window probes (Linux 5.11, "tcp: fix TCP_USER_TIMEOUT with zero window", and the
        // 5.4 and 5.10 stable lines), so the pending send fails with ETIMEDOUT about a second after probing starts.
        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestWebServer.StartAsync(kind, app =>
        {
            app.MapGet("/hello", (HttpContext c) => HttpBasicsTests.Text(c, "hello"));
            app.MapGet("/stream", (HttpContext context) => StreamAsync(context, ended));
        });

        using var socket = await server.ConnectRawAsync();
        socket.ReceiveBufferSize = 64 * 1024;
        await RawHttp.SendAsync(socket, RawHttp.Get("/stream"));
        Assert.True(await socket.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)) == 1, "no response");

        // The handler's writes end (with RequestAborted or the send's error, depending on which of the connection's
        // receive and send the kernel tells first), and the server serves on.
        await ended.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using var client = server.CreateClient();
        Assert.Equal("hello", await client.GetStringAsync("hello"));
        if (!server.ExpectAio)
        {
            // Sockets logged no ConnectionError here in every run (its receive read an end of stream and Kestrel
            // aborted the request first); what follows is the Aio transport's own contract.
            return;
        }

        // Exactly one ConnectionError at Debug, with the kernel's ETIMEDOUT, counted once Kestrel has stopped the
        // timed-out connection (the client above is still connected): by then the pump that took the error has logged
        // it, and the other one saw a closed connection (an end of stream or EPIPE), which is not an error.
        Wait.Until(
            () => server.Logs.Entries.Any(e => e.EventId.Name == "ConnectionStop"),
            () => Thread.Sleep(20),
            "Kestrel to stop the timed-out connection",
            TimeSpan.FromSeconds(10));
        var errors = server.Logs.Entries.Where(e => e.EventId.Name == "ConnectionError").ToList();
        Assert.True(errors.Count == 1, $"{errors.Count} ConnectionError logs (kernel {Environment.OSVersion.Version}: TCP_USER_TIMEOUT must end a zero-window stall); the logs:\n{string.Join("\n", server.Logs.Entries)}");
        var entry = errors[0];
        Assert.Equal("Aio.AspNetCore", entry.Category);
        Assert.Equal(LogLevel.Debug, entry.Level);
        var timedOut = Assert.IsType<SocketException>(entry.Exception);
        Assert.Equal(SocketError.TimedOut, timedOut.SocketErrorCode);
    }
}
