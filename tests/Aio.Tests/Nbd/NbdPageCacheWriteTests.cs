using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// Page-cache WRITEs whose payload came in the same receive as their header are written straight from the receive
/// buffer by the receive loop; the rest (a payload split across receives, FUA) take the worker path. A burst mixes
/// both, and every byte and every reply is checked.
/// </summary>
public sealed class NbdPageCacheWriteTests
{
    private const ushort CmdWrite = 1;
    private const ushort FlagFua = 1;

    [Fact]
    public void A_burst_of_pipelined_writes_is_written_and_answered_exactly_once_each()
    {
        const int Writes = 300;
        const long Size = 4 << 20;
        using var server = new NbdTestServer(size: Size, direct: false);
        var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();

        // Lengths that are not a divisor of the receive buffer, so payloads also straddle receives; one in ten FUA;
        // one write past the end, refused while the rest go on.
        var expected = new byte[Size];
        var burst = new List<byte>();
        const ulong Refused = 1_000_000;
        for (int i = 0; i < Writes; i++)
        {
            int length = 4096 + (i % 7 * 513);
            long offset = ((long)i * 8192) + (i % 5 * 3);   // no two overlap: the order of in-flight writes is undefined
            var payload = new byte[length];
            for (int b = 0; b < length; b++)
            {
                payload[b] = (byte)(i + (b * 7));
            }

            payload.CopyTo(expected, offset);
            burst.AddRange(RawNbdClient.Request(i % 10 == 9 ? FlagFua : (ushort)0, CmdWrite, (ulong)i, (ulong)offset, (uint)length, payload));
            if (i == Writes / 2)
            {
                burst.AddRange(RawNbdClient.Request(0, CmdWrite, Refused, Size - 100, 4096, new byte[4096]));
            }
        }

        client.Send([.. burst]);

        var seen = new HashSet<ulong>();
        for (int i = 0; i < Writes + 1; i++)
        {
            var (error, cookie, _) = client.ReadSimpleReply();
            Assert.True(seen.Add(cookie), $"cookie {cookie} was answered twice");
            if (cookie == Refused)
            {
                Assert.NotEqual(0u, error);
            }
            else
            {
                Assert.True(error == 0, $"write {cookie} failed with {error}");
            }
        }

        Assert.Equal(Writes + 1, seen.Count);

        // The connection is still in sync: one more request is answered.
        client.SendRequest(0, 3 /* FLUSH */, 424242, 0, 0);
        var flush = client.ReadSimpleReply();
        Assert.Equal((0u, 424242UL), (flush.Error, flush.Cookie));
        Assert.Equal(expected, File.ReadAllBytes(server.ImagePath));

        // Both paths ran: most writes from the receive buffer; the FUA ones (a tenth) never.
        client.Dispose();
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.InRange(server.Server.WritesFromReceiveBuffer, 1, Writes - (Writes / 10));
    }

    [Fact]
    public void Replies_to_a_burst_that_came_in_one_receive_leave_in_one_send()
    {
        using var server = new NbdTestServer(size: 1 << 20, direct: false);
        var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();

        // Ten small writes in one send (10 KiB: one receive on the server). The pump runs after the receive loop has
        // answered them all, so one gathered send carries all ten replies.
        var burst = new List<byte>();
        for (int i = 0; i < 10; i++)
        {
            burst.AddRange(RawNbdClient.Request(0, CmdWrite, (ulong)i, (ulong)i * 4096, 1000, new byte[1000]));
        }

        client.Send([.. burst]);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(0u, client.ReadSimpleReply().Error);
        }

        client.Dispose();
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.Equal(10, server.Server.WritesFromReceiveBuffer);
        Assert.Equal(1, server.Server.ReplySends);
    }

    [Fact]
    public void A_client_streaming_small_writes_without_reading_replies_stops_the_server_reading_within_its_budget()
    {
        // Each reply is 16 bytes; with a 4 KiB budget, 256 unsent replies fill it. The client sends 100,000 one-byte
        // writes (nearly all written from the receive buffer) and reads nothing until the server has had to wait for
        // room: the receive loop's in-place writes must stop too, or their replies would pile up without bound once
        // the socket buffers are full.
        const int Writes = 100_000;
        const long Limit = 4096;
        using var server = new NbdTestServer(size: 128 << 10, direct: false, configure: o => o with { MaxBytesInFlight = Limit });
        var burst = new byte[Writes * 29];
        for (int i = 0; i < Writes; i++)
        {
            RawNbdClient.Request(0, CmdWrite, (ulong)i, (ulong)i, 1, [(byte)((i * 31) + 7)]).CopyTo(burst, i * 29);
        }

        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate();
            var sender = Task.Run(() => client.Send(burst));
            Wait.Until(() => server.Server.BudgetWaits > 0 || sender.IsCompleted, () => Thread.Sleep(5), "the server to wait for room while its replies go unread");
            Assert.False(sender.IsCompleted, sender.IsFaulted
                ? $"the sender failed before the server waited for room: {sender.Exception!.InnerException!.Message}"
                : "the whole burst was taken in without a wait for room: the server queued every reply");

            var seen = new bool[Writes];
            for (int i = 0; i < Writes; i++)
            {
                var (error, cookie, _) = client.ReadSimpleReply();
                Assert.Equal(0u, error);
                Assert.True(cookie < Writes && !seen[cookie], $"cookie {cookie} unknown or answered twice");
                seen[cookie] = true;
            }

            Wait.For(sender, "the burst to be sent");
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.True(server.Server.WritesFromReceiveBuffer > 0, "no write took the receive-buffer path");
        Assert.InRange(server.Server.PeakConnectionBytes, 1, Limit + 4096);
        var image = File.ReadAllBytes(server.ImagePath);
        for (int i = 0; i < Writes; i++)
        {
            if (image[i] != (byte)((i * 31) + 7))
            {
                Assert.Fail($"byte {i} is {image[i]}, expected {(byte)((i * 31) + 7)}");
            }
        }
    }
}
