using System.Buffers.Binary;
using System.Net.Sockets;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// Loop mode sends a response that the app flushed more than once in one go: the send pump resumes after the
/// request's synchronous work, not inside its first flush. Counted by the client's kernel: TCP_INFO's
/// <c>tcpi_data_segs_in</c> (Linux 4.6+) is one per segment with data, and on loopback one SEND of a few bytes is one
/// segment.
/// </summary>
public sealed class SendCoalescingTests
{
    // <netinet/tcp.h>: TCP_INFO, and the offset of tcpi_data_segs_in in struct tcp_info.
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    private const int DataSegsInOffset = 152;

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
        Assert.Equal(0u, DataSegmentsIn(socket));
        for (int i = 0; i < Requests; i++)
        {
            await RawHttp.SendAsync(socket, RawHttp.Get("/two-flushes"));
            Assert.Equal((200, "first+second"), (await RawHttp.ReadResponsesAsync(socket, 1))[0]);
        }

        Assert.Equal((uint)Requests, DataSegmentsIn(socket));
    }

    private static uint DataSegmentsIn(Socket socket)
    {
        var info = new byte[256];
        int length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
        Assert.True(length >= DataSegsInOffset + 4, $"TCP_INFO returned {length} bytes: no tcpi_data_segs_in before Linux 4.6");
        return BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(DataSegsInOffset));
    }
}
