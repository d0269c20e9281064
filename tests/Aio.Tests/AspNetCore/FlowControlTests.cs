using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>Backpressure both ways and Kestrel's data-rate limits, as the transport must let them work.</summary>
public sealed class FlowControlTests
{
    private const int ResponseSize = 64 * 1024 * 1024;

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task A_slow_reader_stalls_the_handler_at_the_write_buffer_limit_then_gets_every_byte(TransportKind kind)
    {
        long written = 0;
        long writeStartedTicks = 0;
        await using var server = await TestWebServer.StartAsync(kind, app => app.MapGet("/big", async (HttpContext context) =>
        {
            context.Response.ContentLength = ResponseSize;
            var chunk = new byte[64 * 1024];
            while (Interlocked.Read(ref written) < ResponseSize)
            {
                Volatile.Write(ref writeStartedTicks, Stopwatch.GetTimestamp());
                await context.Response.Body.WriteAsync(chunk);
                Volatile.Write(ref writeStartedTicks, 0);
                Interlocked.Add(ref written, chunk.Length);
            }
        }));
        using var socket = await server.ConnectRawAsync();
        socket.ReceiveBufferSize = 64 * 1024;
        await RawHttp.SendAsync(socket, RawHttp.Get("/big"));

        // The client reads nothing: the handler must end up stuck in a write (socket buffers and the transport's
        // write limit full), far short of the whole response.
        Aio.Tests.Support.Wait.Until(
            () =>
            {
                long since = Volatile.Read(ref writeStartedTicks);
                return since != 0 && Stopwatch.GetElapsedTime(since) > TimeSpan.FromMilliseconds(300);
            },
            () => Thread.Sleep(20),
            "the handler to block in a write");
        Assert.True(Interlocked.Read(ref written) < ResponseSize / 4, $"{Interlocked.Read(ref written)} bytes were accepted with nobody reading");

        // Then the reader catches up and gets everything.
        int total = 0;
        var buffer = new byte[256 * 1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (total < ResponseSize)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n > 0, "the server closed early");
            total += n;
        }

        Assert.True(total > ResponseSize, "headers and body");
        Aio.Tests.Support.Wait.Until(() => Interlocked.Read(ref written) == ResponseSize, () => Thread.Sleep(5), "the handler's last write to complete");
    }

    [Fact]
    public async Task A_slow_writer_under_MinRequestBodyDataRate_gets_a_408_on_every_transport()
    {
        // Kestrel's heartbeat enforces the rate once a second: run the transports side by side to keep this short.
        await Task.WhenAll(new[] { TransportKind.Sockets, TransportKind.AioThreadPool, TransportKind.AioLoop }.Select(SlowWriterAsync));
    }

    private static async Task SlowWriterAsync(TransportKind kind)
    {
        var failure = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestWebServer.StartAsync(
            kind,
            app => app.MapPost("/slow", async (HttpContext context) =>
            {
                try
                {
                    var buffer = new byte[4096];
                    while (await context.Request.Body.ReadAsync(buffer) > 0)
                    {
                    }

                    failure.TrySetResult(new InvalidOperationException("the body ended"));
                }
                catch (Exception ex)
                {
                    failure.TrySetResult(ex);
                    throw;
                }
            }),
            kestrel: o => o.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 10_000, gracePeriod: TimeSpan.FromSeconds(1.1)));
        using var socket = await server.ConnectRawAsync();
        await RawHttp.SendAsync(socket, "POST /slow HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\nabc");
        var error = await failure.Task.WaitAsync(TimeSpan.FromSeconds(15));
        var bad = Assert.IsAssignableFrom<Microsoft.AspNetCore.Http.BadHttpRequestException>(error);
        Assert.Equal(StatusCodes.Status408RequestTimeout, bad.StatusCode);
        var response = await RawHttp.ReadResponsesAsync(socket, 1);
        Assert.Equal(408, response[0].Status);
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task An_unread_upload_stops_at_the_read_buffer_limit(TransportKind kind)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestWebServer.StartAsync(
            kind,
            app => app.MapPost("/hold", async (HttpContext context) =>
            {
                entered.TrySetResult();
                await release.Task;
                long total = 0;
                var buffer = new byte[65536];
                int n;
                while ((n = await context.Request.Body.ReadAsync(buffer)) > 0)
                {
                    total += n;
                }

                await HttpBasicsTests.Text(context, total.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }),
            kestrel: o =>
            {
                o.Limits.MaxRequestBufferSize = 256 * 1024;
                o.Limits.MaxRequestBodySize = null;
            },
            aio: o => o.MaxReadBufferSize = 256 * 1024);
        const int size = 64 * 1024 * 1024;
        using var socket = await server.ConnectRawAsync();
        socket.SendBufferSize = 64 * 1024;
        await RawHttp.SendAsync(socket, $"POST /hold HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Nobody reads on the server: the client's sends must stop being accepted long before 64 MiB.
        var chunk = new byte[64 * 1024];
        long sent = 0;
        socket.Blocking = false;
        var sw = Stopwatch.StartNew();
        while (sent < size && sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                sent += socket.Send(chunk, 0, (int)Math.Min(chunk.Length, size - sent), SocketFlags.None);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                // Full for now. A server that reads without a limit drains the socket again at once; one that applies
                // backpressure leaves it full. Half a second without room is taken as the latter.
                if (!socket.Poll(TimeSpan.FromMilliseconds(500), SelectMode.SelectWrite))
                {
                    break;
                }
            }
        }

        Assert.True(sent < size / 4, $"{sent} bytes were taken with nobody reading");

        // Release the handler: the rest flows.
        socket.Blocking = true;
        release.SetResult();
        while (sent < size)
        {
            sent += await socket.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, size - sent)), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }

        var response = await RawHttp.ReadResponsesAsync(socket, 1);
        Assert.Equal((200, size.ToString(System.Globalization.CultureInfo.InvariantCulture)), response[0]);
    }
}
