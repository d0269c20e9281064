using System.Net.Sockets;
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
}
