using System.Net.Sockets;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>A client that resets (RST) before, between and during requests: RequestAborted fires, nothing is logged above Debug.</summary>
public sealed class ResetTests
{
    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static async Task<TestWebServer> StartAsync(TransportKind kind, TaskCompletionSource started, TaskCompletionSource aborted) =>
        await TestWebServer.StartAsync(kind, app =>
        {
            app.MapGet("/hello", (HttpContext c) => HttpBasicsTests.Text(c, "hello"));
            app.MapGet("/wait", async (HttpContext context) =>
            {
                context.RequestAborted.Register(() => aborted.TrySetResult());
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            });
        });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task A_reset_before_between_and_during_requests_fires_RequestAborted_and_logs_nothing_above_Debug(TransportKind kind)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(kind, started, aborted);

        // Before any request.
        Reset(await server.ConnectRawAsync());

        // Between requests.
        var between = await server.ConnectRawAsync();
        await RawHttp.SendAsync(between, RawHttp.Get("/hello"));
        Assert.Equal((200, "hello"), (await RawHttp.ReadResponsesAsync(between, 1))[0]);
        Reset(between);

        // During a request: the handler's RequestAborted fires.
        var during = await server.ConnectRawAsync();
        await RawHttp.SendAsync(during, RawHttp.Get("/wait"));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Reset(during);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The server still serves, and nothing of the resets was logged above Debug.
        using var client = server.CreateClient();
        Assert.Equal("hello", await client.GetStringAsync("hello"));
        server.AssertNothingLoggedAbove(LogLevel.Debug);
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task A_client_FIN_during_a_request_fires_RequestAborted(TransportKind kind)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(kind, started, aborted);
        using var socket = await server.ConnectRawAsync();
        await RawHttp.SendAsync(socket, RawHttp.Get("/wait"));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        socket.Shutdown(SocketShutdown.Send);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        server.AssertNothingLoggedAbove(LogLevel.Debug);
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task A_reset_while_the_response_waits_for_a_full_socket_ends_the_handler_and_logs_nothing_above_Debug(TransportKind kind)
    {
        // The client stops reading a large response, so the server's send waits for room in the socket and the
        // handler's writes wait on Kestrel's flow control; then it resets. The failed send must not reach Kestrel as
        // an exception from FlushAsync (logged as an unexpected error): the handler's writes end through
        // RequestAborted or complete, as with Sockets.
        long written = 0;
        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestWebServer.StartAsync(kind, app => app.MapGet("/stream", async (HttpContext context) =>
        {
            var chunk = new byte[64 * 1024];
            try
            {
                for (int i = 0; i < 4096 && !context.RequestAborted.IsCancellationRequested; i++)
                {
                    await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                    Interlocked.Add(ref written, chunk.Length);
                }

                ended.TrySetResult(null);
            }
            catch (Exception ex)
            {
                ended.TrySetResult(ex);
            }
        }));

        using var socket = await server.ConnectRawAsync();
        socket.ReceiveBufferSize = 64 * 1024;
        await RawHttp.SendAsync(socket, RawHttp.Get("/stream"));
        Assert.True(await socket.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)) == 1, "no response");

        // Stuck: what was written stops growing while nobody reads (every wait here is for a write that cannot end).
        long seen = -1;
        Wait.Until(
            () =>
            {
                long now = Interlocked.Read(ref written);
                bool still = now == seen && now > 0;
                seen = now;
                return still;
            },
            () => Thread.Sleep(100),
            "the handler's writes to stop on flow control");
        Reset(socket);

        var error = await ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(error is null or OperationCanceledException, $"the handler's write failed with {error}");
        server.AssertNothingLoggedAbove(LogLevel.Debug);
    }
}
