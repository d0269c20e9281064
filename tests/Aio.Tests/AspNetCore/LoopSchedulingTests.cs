using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// Where Kestrel and the app run. Loop mode: on the connection's loop for every request, the first one of a connection
/// included (Kestrel starts connections on the thread pool), with no synchronization context, as with Sockets' inline
/// scheduling. ThreadPool mode: never on a loop.
/// </summary>
public sealed class LoopSchedulingTests
{
    private static void MapWhere(WebApplication app)
    {
        app.MapGet("/where", (HttpContext c) => HttpBasicsTests.Text(c, Where()));
        app.MapGet("/blocks", (HttpContext c) =>
        {
            // Sync over async on the loop: under a context that posts back to the (blocked) loop this would never end.
            string later = Later().GetAwaiter().GetResult();
            return HttpBasicsTests.Text(c, later + "|" + Where());
        });

        static async Task<string> Later()
        {
            await Task.Delay(5);
            return "later";
        }
    }

    private static string Where() => (AioContext.Current is null ? "pool" : "loop") + "|" + (SynchronizationContext.Current is null ? "none" : SynchronizationContext.Current.GetType().Name);

    [IoUringTheory]
    [InlineData(TransportKind.AioLoop, "loop|none")]
    [InlineData(TransportKind.AioThreadPool, "pool|none")]
    public async Task Every_request_runs_where_the_mode_says_the_first_of_a_connection_included(TransportKind kind, string expected)
    {
        await using var server = await TestWebServer.StartAsync(kind, MapWhere);
        for (int i = 0; i < 8; i++)
        {
            // One request per connection, sent with the connect: usually in the pipe before Kestrel first reads.
            using var socket = await server.ConnectRawAsync();
            await RawHttp.SendAsync(socket, RawHttp.Get("/where", close: true));
            Assert.Equal((200, expected), (await RawHttp.ReadResponsesAsync(socket, 1))[0]);
        }

        using var keepAlive = await server.ConnectRawAsync();
        for (int i = 0; i < 3; i++)
        {
            await RawHttp.SendAsync(keepAlive, RawHttp.Get("/where"));
            Assert.Equal((200, expected), (await RawHttp.ReadResponsesAsync(keepAlive, 1))[0]);
        }

        await RawHttp.SendAsync(keepAlive, string.Concat(Enumerable.Repeat(RawHttp.Get("/where"), 4)));
        Assert.All(await RawHttp.ReadResponsesAsync(keepAlive, 4), r => Assert.Equal((200, expected), r));
    }

    [IoUringFact]
    public async Task A_Loop_mode_handler_that_blocks_on_an_async_call_does_not_deadlock_its_loop()
    {
        await using var server = await TestWebServer.StartAsync(TransportKind.AioLoop, MapWhere);
        using var socket = await server.ConnectRawAsync();
        for (int i = 0; i < 2; i++)
        {
            // The first request of the connection, then a keep-alive one: both on the loop, both must answer.
            await RawHttp.SendAsync(socket, RawHttp.Get("/blocks"));
            Assert.Equal((200, "later|loop|none"), (await RawHttp.ReadResponsesAsync(socket, 1))[0]);
        }
    }
}
