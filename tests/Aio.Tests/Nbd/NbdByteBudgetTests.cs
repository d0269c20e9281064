using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// A connection holds at most about <c>MaxBytesInFlight</c> of buffers (plus one request): large requests wait for
/// room before their payload is read, and a client that stops reading its replies stops the server reading requests
/// instead of making it queue every reply.
/// </summary>
public class NbdByteBudgetTests
{
    private const int MiB = 1 << 20;
    private const long Limit = 4 * MiB;

    // One request beyond the limit, its alignment slack and the reply headers queued beside it.
    private const long Bound = Limit + MiB + 4096 + (64 * 1024);

    [Fact]
    public void A_client_that_stops_reading_replies_does_not_make_the_server_queue_them_all()
    {
        using var server = new NbdTestServer(size: 16 * MiB, random: true, configure: o => o with { MaxBytesInFlight = Limit });
        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate();
            const int Requests = 64;
            for (int i = 0; i < Requests; i++)
            {
                // 64 MiB of replies asked for before one is read.
                client.SendRequest(0, 0, (ulong)i, (ulong)(i % 16) * MiB, MiB);
            }

            var image = File.ReadAllBytes(server.ImagePath);
            for (int i = 0; i < Requests; i++)
            {
                var (error, cookie, data) = client.ReadSimpleReply(MiB);
                Assert.Equal(0u, error);
                Assert.True(image.AsSpan((int)(cookie % 16) * MiB, MiB).SequenceEqual(data), $"reply {cookie} has the wrong data");
            }
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.InRange(server.Server.PeakConnectionBytes, MiB, Bound);
    }

    [Fact]
    public void A_request_waiting_for_room_when_the_server_stops_is_answered_with_ESHUTDOWN_not_dropped()
    {
        using var server = new NbdTestServer(size: 16 * MiB, random: true, configure: o => o with { MaxBytesInFlight = MiB });
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();
        // The first READ's reply fills the budget while the client reads nothing; the second waits for room.
        client.SendRequest(0, 0, 1, 0, MiB);
        client.SendRequest(0, 0, 2, MiB, MiB);
        Wait.Until(() => server.Server.BudgetWaits >= 1, () => Thread.Sleep(5), "the second READ to wait for room");

        var stopping = server.Server.DisposeAsync().AsTask();
        var image = File.ReadAllBytes(server.ImagePath);
        // In either order: the refusal may be queued while the first READ is still reading the file.
        var replies = new[] { client.ReadSimpleReply(MiB), client.ReadSimpleReply(MiB) }.OrderBy(r => r.Cookie).ToArray();
        Assert.Equal((0u, 1ul), (replies[0].Error, replies[0].Cookie));
        Assert.True(image.AsSpan(0, MiB).SequenceEqual(replies[0].Data), "the first READ's data");
        Assert.Equal((108u, 2ul), (replies[1].Error, replies[1].Cookie)); // NBD_ESHUTDOWN
        Assert.True(client.IsClosedByServer(), "the server closed the connection after answering");
        Wait.For(stopping, "the server to stop");
    }

    [Fact]
    public void Requests_already_received_behind_one_waiting_for_room_are_all_answered_when_the_server_stops()
    {
        using var server = new NbdTestServer(size: 16 * MiB, random: true, configure: o => o with { MaxBytesInFlight = MiB });
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();

        // One write: the first READ fills the budget, the second waits for room, and the ten READs and the WRITE behind
        // it came in with the same receive. The server has read them all: each is owed a reply when it stops.
        var burst = new List<byte>();
        burst.AddRange(RawNbdClient.Request(0, 0, 1, 0, MiB));
        burst.AddRange(RawNbdClient.Request(0, 0, 2, MiB, MiB));
        for (ulong cookie = 3; cookie <= 12; cookie++)
        {
            burst.AddRange(RawNbdClient.Request(0, 0, cookie, cookie * 4096, 4096));
        }

        burst.AddRange(RawNbdClient.Request(0, 1, 13, 0, 512, new byte[512]));
        client.Send([.. burst]);
        Wait.Until(() => server.Server.BudgetWaits >= 1, () => Thread.Sleep(5), "the second READ to wait for room");

        var stopping = server.Server.DisposeAsync().AsTask();
        var replies = ReadRepliesByCookie(client, 13);
        Assert.Equal((0u, 1ul), replies[0]);
        Assert.All(replies.Skip(1), r => Assert.Equal(108u, r.Error)); // NBD_ESHUTDOWN
        Assert.Equal(Enumerable.Range(1, 13).Select(c => (ulong)c), replies.Select(r => r.Cookie));
        Assert.True(client.IsClosedByServer(), "the server closed the connection after answering");
        Wait.For(stopping, "the server to stop");
    }

    [Fact]
    public void A_WRITE_waiting_for_room_when_the_server_stops_has_its_payload_passed_over_not_parsed_as_requests()
    {
        using var server = new NbdTestServer(size: 16 * MiB, random: true, configure: o => o with { MaxBytesInFlight = MiB });
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();

        // The WRITE waits for room with its payload unread in the receive buffer. The payload begins like a request
        // (cookie 0xdead): read as the next header, it made up a reply, and the READs behind the payload got none.
        var payload = new byte[4096];
        RawNbdClient.Request(0, 0, 0xdead, 0, 4096).CopyTo(payload, 0);
        var burst = new List<byte>();
        burst.AddRange(RawNbdClient.Request(0, 0, 1, 0, MiB));
        burst.AddRange(RawNbdClient.Request(0, 1, 2, 0, 4096, payload));
        for (ulong cookie = 3; cookie <= 12; cookie++)
        {
            burst.AddRange(RawNbdClient.Request(0, 0, cookie, cookie * 4096, 4096));
        }

        client.Send([.. burst]);
        Wait.Until(() => server.Server.BudgetWaits >= 1, () => Thread.Sleep(5), "the WRITE to wait for room");

        var stopping = server.Server.DisposeAsync().AsTask();
        var replies = ReadRepliesByCookie(client, 12);
        Assert.Equal(Enumerable.Range(1, 12).Select(c => (ulong)c), replies.Select(r => r.Cookie));
        Assert.Equal(0u, replies[0].Error);
        Assert.All(replies.Skip(1), r => Assert.Equal(108u, r.Error)); // NBD_ESHUTDOWN
        Assert.True(client.IsClosedByServer(), "the server closed the connection after answering");
        Wait.For(stopping, "the server to stop");
    }

    [Fact]
    public void A_server_stopped_with_requests_still_unread_lingers_so_that_its_last_replies_are_not_reset_away()
    {
        // TCP: a close that leaves input unread sends a reset, and the reset throws away what is still in the send queue.
        // 3,000 headers (84 KB) are more than one receive takes in; the first READ fills the budget and the second
        // waits. The client reads nothing until the server has stopped, through a small receive window: most replies
        // are still in the server's send queue when it closes.
        const int Budget = 64 * 1024;
        using var server = new NbdTestServer(size: 16 * MiB, random: true, configure: o => o with
        {
            MaxBytesInFlight = Budget,
            Listen = [new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)],
        });
        using var client = new RawNbdClient((System.Net.IPEndPoint)server.Server.EndPoints[0], receiveBuffer: 16 * 1024);
        client.Negotiate();
        var burst = new List<byte>();
        burst.AddRange(RawNbdClient.Request(0, 0, 1, 0, Budget));
        for (ulong cookie = 2; cookie <= 3001; cookie++)
        {
            burst.AddRange(RawNbdClient.Request(0, 0, cookie, 4096, 4096));
        }

        client.Send([.. burst]);
        Wait.Until(() => server.Server.BudgetWaits >= 1, () => Thread.Sleep(5), "the second READ to wait for room");
        Wait.For(server.Server.DisposeAsync().AsTask(), "the server to stop");

        // Every reply the server queued arrives, then a clean end: a reset instead throws here, or cuts the cookies
        // short. Before the stop, replies the socket took freed the budget for more READs, so some of the 4 KiB ones
        // may have run (data), the rest are refused (ESHUTDOWN); in any order (the first READ's data may come after
        // refusals queued while it read the file).
        var replies = new List<(uint Error, ulong Cookie)>();
        while (!client.AtEndOfStream())
        {
            var (error, cookie, _) = client.ReadSimpleReply(c => c == 1 ? Budget : 4096);
            replies.Add((error, cookie));
        }

        replies.Sort((a, b) => a.Cookie.CompareTo(b.Cookie));
        Assert.Equal(Enumerable.Range(1, replies.Count).Select(c => (ulong)c), replies.Select(r => r.Cookie));
        Assert.Equal(0u, replies[0].Error);
        Assert.All(replies, r => Assert.True(r.Error is 0 or 108, $"reply {r.Cookie}: error {r.Error}")); // NBD_ESHUTDOWN
        Assert.Contains(replies, r => r.Error == 108);
    }

    /// <summary><paramref name="count"/> simple replies (a READ's data up to a MiB), sorted by cookie.</summary>
    private static List<(uint Error, ulong Cookie)> ReadRepliesByCookie(RawNbdClient client, int count)
    {
        var replies = new List<(uint Error, ulong Cookie)>();
        for (int i = 0; i < count; i++)
        {
            var (error, cookie, _) = client.ReadSimpleReply(MiB);
            replies.Add((error, cookie));
        }

        replies.Sort((a, b) => a.Cookie.CompareTo(b.Cookie));
        return replies;
    }

    [Fact]
    public void HasRoom_answers_as_a_reservation_would_without_taking_anything()
    {
        // The receive loop's in-place writes ask HasRoom for their reply: the same rule as ReserveAsync.
        var budget = new Aio.Nbd.NbdByteBudget(100);
        Assert.True(budget.HasRoom(1000), "an empty connection always has room (a large request runs alone)");
        budget.Add(90);
        Assert.True(budget.HasRoom(10));
        Assert.False(budget.HasRoom(11));
        Assert.True(budget.HasRoom(10), "HasRoom took nothing");
        budget.Release(90);
        Assert.True(budget.HasRoom(100));
    }

    [Fact]
    public void Large_writes_wait_for_room_before_their_payload_is_read()
    {
        using var server = new NbdTestServer(size: 16 * MiB, configure: o => o with { MaxBytesInFlight = Limit });
        var payload = new byte[MiB];
        new Random(5).NextBytes(payload);
        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate();
            const int Requests = 32;
            for (int i = 0; i < Requests; i++)
            {
                // FUA: each write waits for the disk, so payloads arrive faster than writes end.
                client.SendRequest(1, 1, (ulong)i, (ulong)(i % 16) * MiB, MiB, payload);
            }

            for (int i = 0; i < Requests; i++)
            {
                Assert.Equal(0u, client.ReadSimpleReply().Error);
            }
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.InRange(server.Server.PeakConnectionBytes, MiB, Bound);
        Assert.True(File.ReadAllBytes(server.ImagePath).AsSpan(15 * MiB, MiB).SequenceEqual(payload), "the last write's data is not in the image");
    }

    [Fact]
    public void A_WRITE_ZEROES_counts_the_piece_it_may_write_against_the_budget()
    {
        // Where the file system cannot zero a range, the zeroes are written a 1 MiB piece at a time, and a piece of an
        // O_DIRECT export is held across its write: 128 such requests held 128 pieces against a budget of 64 MiB. Each
        // reserves its piece now, so with a 1 MiB budget the receive loop waits for room instead (the zeroing goes to
        // a kernel worker, so the next header is read before the first request ends).
        using var server = new NbdTestServer(size: 16 * MiB, random: true, configure: o => o with { MaxBytesInFlight = MiB });
        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate();
            const int Requests = 32;
            for (int i = 0; i < Requests; i++)
            {
                client.SendRequest(0, Aio.Nbd.NbdProtocol.CmdWriteZeroes, (ulong)i, (ulong)(i % 8) * 2 * MiB, 2 * MiB);
            }

            for (int i = 0; i < Requests; i++)
            {
                Assert.Equal(0u, client.ReadSimpleReply().Error);
            }
        }

        Assert.True(server.Server.BudgetWaits >= 1, "32 WRITE_ZEROES of 2 MiB never waited for room in a 1 MiB budget");
        Assert.True(File.ReadAllBytes(server.ImagePath).All(b => b == 0), "the image is not all zeroes");
    }

    [Fact]
    public void A_client_sending_only_refused_requests_and_reading_no_reply_stops_the_server_reading()
    {
        // Refused requests cost no I/O, only their error replies: those count against the budget too (with what a
        // queued reply really takes), so the receive loop waits for room rather than queueing replies without end.
        const long SmallLimit = 64 * 1024;
        using var server = new NbdTestServer(size: MiB, configure: o => o with { MaxBytesInFlight = SmallLimit });
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();
        var flood = new byte[28 * 1024];
        for (int i = 0; i < 1024; i++)
        {
            // An unknown command (type 99): EINVAL, the connection goes on.
            RawNbdClient.Request(0, 99, (ulong)i, 0, 0).CopyTo(flood, i * 28);
        }

        // 8 MiB of requests (300k of them) from another thread; sending blocks once the server stops reading.
        const int Rounds = 8 * MiB / (28 * 1024);
        var sending = Task.Run(() =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                client.Socket.Send(flood);
            }
        });
        Wait.Until(() => server.Server.BudgetWaits > 0 || sending.IsCompleted, () => Thread.Sleep(5), "the server to stop reading or the client to send everything");
        Assert.True(server.Server.BudgetWaits > 0, "the server read 8 MiB of refused requests from a client that read none of their replies");

        // Closing with requests unanswered ends the connection; what it held stayed near the limit.
        client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        _ = Record.Exception(() => sending.Wait(Wait.Default));
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.InRange(server.Server.PeakConnectionBytes, 1, SmallLimit + (2 * (Aio.Nbd.NbdProtocol.SimpleReplySize + Aio.Nbd.NbdReplyQueue.SegmentOverhead)));
    }
}
