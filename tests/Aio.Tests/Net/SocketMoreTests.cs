using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// <c>SendAsync(..., more: true)</c> is send(2)'s MSG_MORE, on the ring and on the fallback path: the data's last
/// partial segment waits for what follows, so a shutdown right after puts its FIN into that segment. Counted by the
/// receiver's kernel (TCP_INFO): without the flag the same exchange is two segments, the data and then the FIN.
/// </summary>
public class SocketMoreTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.AllTimesTwo), MemberType = typeof(MonitorKinds))]
    public async Task Data_sent_with_more_and_then_a_shutdown_leave_in_one_segment(FdMonitorKind kind, bool gathered)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        foreach (bool more in new[] { false, true })
        {
            var (client, server) = await loops.ConnectAsync(listener);
            await using (client)
            await using (server)
            {
                var before = TcpInfo.SegmentsIn(client.Socket);
                if (gathered)
                {
                    // Two segments: one SENDMSG (sendmsg(2) on the fallback path) with two iovecs.
                    await server.SendAsync(Sequences.Of("hel"u8.ToArray(), "lo"u8.ToArray()), more).Within("the gathered send");
                }
                else
                {
                    Assert.Equal(5, await server.SendAsync("hello"u8.ToArray(), more).Within("the send"));
                }

                server.Shutdown(SocketShutdown.Send);
                var buffer = new byte[16];
                await NetLoops.ReceiveExactlyAsync(client, buffer.AsMemory(0, 5));
                Assert.Equal("hello"u8.ToArray(), buffer[..5]);
                Assert.Equal(0, await client.ReceiveAsync(buffer).Within("the receive of the end of stream"));

                var after = TcpInfo.SegmentsIn(client.Socket);
                Assert.Equal(1u, after.Data - before.Data);
                Assert.True(
                    after.All - before.All == (more ? 1u : 2u),
                    $"more: {more}; {after.All - before.All} segments brought the data and the FIN ({(more ? 1 : 2)} expected)");
            }
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pipe_whose_writer_completes_with_data_sends_it_and_the_FIN_in_one_segment(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var before = TcpInfo.SegmentsIn(client.Socket);
            var pipe = server.AsPipe();

            // Written and not flushed: completing the writer commits it, so the pump reads the data and the
            // completion together.
            pipe.Output.Write("hello"u8);
            await pipe.Output.CompleteAsync().Within("the pipe writer's completion");
            var buffer = new byte[16];
            await NetLoops.ReceiveExactlyAsync(client, buffer.AsMemory(0, 5));
            Assert.Equal(0, await client.ReceiveAsync(buffer).Within("the receive of the end of stream"));
            var after = TcpInfo.SegmentsIn(client.Socket);
            Assert.True(after.All - before.All == 1, $"{after.All - before.All} segments brought the data and the FIN (1 expected)");
            await pipe.Input.CompleteAsync().Within("the pipe reader's completion");
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Data_sent_with_more_and_nothing_after_still_arrives(FdMonitorKind kind)
    {
        // Held back by TCP for what follows; when nothing does, its probe timer sends it (about 200 ms on loopback).
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            Assert.Equal(3, await server.SendAsync("abc"u8.ToArray(), more: true).Within("the send"));
            var buffer = new byte[3];
            await NetLoops.ReceiveExactlyAsync(client, buffer);
            Assert.Equal("abc"u8.ToArray(), buffer);

            // The next send without the flag goes at once, with nothing held back before it.
            Assert.Equal(3, await server.SendAsync("def"u8.ToArray()).Within("the second send"));
            await NetLoops.ReceiveExactlyAsync(client, buffer);
            Assert.Equal("def"u8.ToArray(), buffer);
        }
    }
}
