using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// Loop mode sends a response that the app flushed more than once in one go: the send pump resumes after the
/// request's synchronous work, not inside its first flush; and the last response of a connection that closes carries
/// the FIN in its own segment. Counted by the client's kernel (<see cref="TcpInfo"/>): on loopback one SEND of a few
/// bytes is one segment.
/// </summary>
public sealed class SendCoalescingTests
{
    [IoUringFact]
    public async Task A_response_flushed_twice_in_one_go_leaves_in_one_segment_in_Loop_mode()
    {
        const int Requests = 20;
        await using var server = await TestWebServer.StartAsync(TransportKind.AioLoop, app => app.MapGet("/two-flushes", async (HttpContext c) =>
        {
            c.Response.ContentLength = 12;
            await c.Response.Body.WriteAsync("first"u8.ToArray());
            await c.Response.Body.WriteAsync("+second"u8.ToArray());
        }));
        using var socket = await server.ConnectRawAsync();
        Assert.Equal(0u, TcpInfo.SegmentsIn(socket).Data);
        for (int i = 0; i < Requests; i++)
        {
            await RawHttp.SendAsync(socket, RawHttp.Get("/two-flushes"));
            Assert.Equal((200, "first+second"), (await RawHttp.ReadResponsesAsync(socket, 1))[0]);
        }

        Assert.Equal((uint)Requests, TcpInfo.SegmentsIn(socket).Data);
    }

    [IoUringFact]
    public async Task A_Connection_close_response_carries_the_FIN_one_segment_fewer_than_with_Sockets()
    {
        // The same exchange against both transports: whatever else the client receives without data (the ACK of its
        // request) is the same for both, and Sockets sends the FIN in a segment of its own after the response.
        uint sockets = await SegmentsWithoutDataAsync(TransportKind.Sockets);
        uint aio = await SegmentsWithoutDataAsync(TransportKind.AioLoop);
        Assert.True(aio + 1 == sockets, $"segments without data: {aio} from Aio in Loop mode, {sockets} from Sockets (one fewer expected)");
    }

    /// <summary>One GET with Connection: close, read to the end: the segments without data the client received.</summary>
    private static async Task<uint> SegmentsWithoutDataAsync(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, HttpBasicsTests.MapBasics);
        using var socket = await server.ConnectRawAsync();
        var before = TcpInfo.SegmentsIn(socket);
        await RawHttp.SendAsync(socket, RawHttp.Get("/hello", close: true));
        Assert.True(await RawHttp.ReadToEndAsync(socket) > 0, $"{kind}: no response before the end of stream");
        var after = TcpInfo.SegmentsIn(socket);
        Assert.True(after.Data - before.Data == 1, $"{kind}: the response came in {after.Data - before.Data} segments");
        return after.All - after.Data - (before.All - before.Data);
    }
}
