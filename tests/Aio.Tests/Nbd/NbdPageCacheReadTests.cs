using System.Buffers.Binary;
using Aio.Interop;
using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// READs of a page-cache export whose pages are in memory are answered from the export's mapping (the send copies
/// straight from the page cache); the rest go through the ring. Every byte of every reply is checked against the file,
/// also after writes to the ranges read.
/// </summary>
public sealed class NbdPageCacheReadTests
{
    // posix_fadvise's advice to drop clean cached pages (include/uapi/linux/fadvise.h).
    private const int PosixFadvDontNeed = 4;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pipelined_reads_and_reads_after_writes_return_the_file_bytes(bool structured)
    {
        const long Size = (4 << 20) + 321;   // not a multiple of a page: the last read ends inside one
        const int Reads = 200;
        using var server = new NbdTestServer(size: Size, direct: false, random: true);
        var expected = File.ReadAllBytes(server.ImagePath);
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate(structured: structured);

        var burst = new List<byte>();
        var ranges = new (long Offset, int Length)[Reads];
        for (int i = 0; i < Reads; i++)
        {
            int length = i == Reads - 1 ? 4000 : 1 + (i * 1543 % 300_000);
            long offset = i == Reads - 1 ? Size - length : (i * 104_729L) % (Size - length);
            ranges[i] = (offset, length);
            burst.AddRange(RawNbdClient.Request(0, NbdProtocol.CmdRead, (ulong)i, (ulong)offset, (uint)length));
        }

        client.Send([.. burst]);
        var seen = new HashSet<ulong>();
        for (int i = 0; i < Reads; i++)
        {
            var (cookie, data) = ReadData(client, structured, ranges);
            Assert.True(seen.Add(cookie), $"read {cookie} was answered twice");
            var (offset, length) = ranges[cookie];
            Assert.True(expected.AsSpan((int)offset, length).SequenceEqual(data), $"read {cookie} ({offset}+{length}) differs from the file");
        }

        // A write, then a read of the same range on the same connection: the mapping is the page cache, so the read
        // carries the new bytes.
        for (int round = 0; round < 20; round++)
        {
            long offset = 4096 + (round * 70_001L);
            var payload = new byte[10_000 + round];
            new Random(round).NextBytes(payload);
            client.SendRequest(0, NbdProtocol.CmdWrite, 1000UL + (ulong)round, (ulong)offset, (uint)payload.Length, payload);
            Assert.Equal((0u, 1000UL + (ulong)round), ReadAck(client, structured));
            payload.CopyTo(expected, offset);
            var range = new[] { (offset - 3, payload.Length + 6) };
            client.SendRequest(0, NbdProtocol.CmdRead, 0, (ulong)(offset - 3), (uint)(payload.Length + 6));
            var (_, data) = ReadData(client, structured, range);
            Assert.True(expected.AsSpan((int)offset - 3, payload.Length + 6).SequenceEqual(data), $"the read after write {round} is stale");
        }

        client.Dispose();
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");

        // The test wrote every byte of the file just now: all of it is in the page cache, so every READ used the view,
        // and, the replies (about 30 MB) fitting in the connection's byte budget, each was answered in the receive loop.
        Assert.Equal(Reads + 20, server.Server.ReadsFromView);
        Assert.Equal(Reads + 20, server.Server.ReadsInPlace);
    }

    [Fact]
    public void Reads_answered_in_the_receive_loop_keep_to_the_byte_budget()
    {
        // 50 reads of 60 KB against a budget of 100 KB: a reply queued and not yet sent leaves no room for the next one
        // in place, which then waits for room like any request. Every read still comes from the view, intact.
        const int Reads = 50;
        const int Length = 60_000;
        using var server = new NbdTestServer(size: 4 << 20, direct: false, random: true, configure: o => o with { MaxBytesInFlight = 100_000 });
        var expected = File.ReadAllBytes(server.ImagePath);
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();
        var burst = new List<byte>();
        for (int i = 0; i < Reads; i++)
        {
            burst.AddRange(RawNbdClient.Request(0, NbdProtocol.CmdRead, (ulong)i, (ulong)i * Length, Length));
        }

        client.Send([.. burst]);
        var seen = new HashSet<ulong>();
        for (int i = 0; i < Reads; i++)
        {
            var (error, cookie, data) = client.ReadSimpleReply(Length);
            Assert.Equal(0u, error);
            Assert.True(cookie < Reads && seen.Add(cookie), $"unexpected or repeated cookie {cookie}");
            Assert.True(expected.AsSpan((int)cookie * Length, Length).SequenceEqual(data), $"read {cookie} differs from the file");
        }

        client.Dispose();
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.Equal(Reads, server.Server.ReadsFromView);
        Assert.InRange(server.Server.ReadsInPlace, 1, Reads / 5);

        // Held at most: the budget, plus the reply a reservation's request queues before its reservation ends.
        Assert.True(server.Server.BudgetWaits > 0, "the receive loop never waited for room");
        Assert.InRange(server.Server.PeakConnectionBytes, Length, 100_000 + Length + NbdProtocol.SimpleReplySize);
    }

    [Fact]
    public void A_structured_read_of_a_hole_is_answered_in_place_with_one_hole_chunk()
    {
        // A sparse page-cache export: nothing to read, nothing to map.
        using var server = new NbdTestServer(size: 8 << 20, direct: false);
        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate(structured: true);
            client.SendRequest(0, NbdProtocol.CmdRead, 5, 1 << 20, 65_536);
            var reply = client.ReadReply();
            Assert.Equal((NbdProtocol.ReplyTypeOffsetHole, NbdProtocol.ReplyFlagDone, 5UL), (reply.Type, reply.Flags, reply.Cookie));
            Assert.Equal((ulong)(1 << 20), BinaryPrimitives.ReadUInt64BigEndian(reply.Payload));
            Assert.Equal(65_536u, BinaryPrimitives.ReadUInt32BigEndian(reply.Payload.AsSpan(8)));
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.Equal((1L, 0L), (server.Server.ReadsInPlace, server.Server.ReadsFromView));
    }

    [Fact]
    public void A_read_of_pages_out_of_memory_goes_through_the_ring_and_brings_them_in()
    {
        // Needs a file system whose clean pages can be dropped (CI's temp directory is ext4, not tmpfs).
        using var server = new NbdTestServer(size: 1 << 20, direct: false, random: true);
        var expected = File.ReadAllBytes(server.ImagePath);
        using (var handle = File.OpenHandle(server.ImagePath, FileMode.Open, FileAccess.ReadWrite))
        using (var stream = new FileStream(handle, FileAccess.ReadWrite))
        {
            stream.Flush(flushToDisk: true);
            Assert.Equal(0, Libc.PosixFAdvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed));
        }

        // Out of memory: the ring's read, not the view.
        ReadOnce(server, expected, offset: 65_536, length: 131_072);
        Assert.Equal(0, server.Server.ReadsFromView);

        // That read brought the pages in: the same read now comes from the view.
        ReadOnce(server, expected, offset: 65_536, length: 131_072);
        Assert.Equal(1, server.Server.ReadsFromView);
    }

    private static void ReadOnce(NbdTestServer server, byte[] expected, long offset, int length)
    {
        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate();
            client.SendRequest(0, NbdProtocol.CmdRead, 7, (ulong)offset, (uint)length);
            var (error, cookie, data) = client.ReadSimpleReply(length);
            Assert.Equal((0u, 7UL), (error, cookie));
            Assert.True(expected.AsSpan((int)offset, length).SequenceEqual(data), "the read differs from the file");
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
    }

    private static (ulong Cookie, byte[] Data) ReadData(RawNbdClient client, bool structured, (long Offset, int Length)[] ranges)
    {
        if (!structured)
        {
            var header = client.Receive(16);
            Assert.Equal(NbdProtocol.SimpleReplyMagic, BinaryPrimitives.ReadUInt32BigEndian(header));
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)));
            ulong cookie = BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8));
            return (cookie, client.Receive(ranges[cookie].Length));
        }

        // One OFFSET_DATA chunk with DONE: the file has no holes.
        var reply = client.ReadReply();
        Assert.False(reply.Simple, "a structured session got a simple reply to a READ");
        Assert.Equal((NbdProtocol.ReplyTypeOffsetData, NbdProtocol.ReplyFlagDone), (reply.Type, reply.Flags));
        Assert.Equal((ulong)ranges[reply.Cookie].Offset, BinaryPrimitives.ReadUInt64BigEndian(reply.Payload));
        return (reply.Cookie, reply.Payload[8..]);
    }

    private static (uint Error, ulong Cookie) ReadAck(RawNbdClient client, bool structured)
    {
        if (!structured)
        {
            var (error, cookie, _) = client.ReadSimpleReply();
            return (error, cookie);
        }

        var reply = client.ReadReply();
        return reply.Simple ? (reply.SimpleError, reply.Cookie) : (reply.Flags == NbdProtocol.ReplyFlagDone ? 0u : 1u, reply.Cookie);
    }
}
