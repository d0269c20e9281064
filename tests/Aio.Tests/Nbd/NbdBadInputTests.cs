using System.Buffers.Binary;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>Malformed handshakes and requests from a raw socket: the protocol's answer, never a crash, the connection going on where it should.</summary>
public class NbdBadInputTests
{
    private const uint ErrUnsup = 0x80000001;
    private const uint ErrInvalid = 0x80000003;

    [Fact]
    public void Bad_option_magic_drops_the_connection()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.Send(new byte[16]);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void Unknown_client_flags_drop_the_connection()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello(flags: 3 | 0x100);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void Option_longer_than_32_MiB_drops_the_connection()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(7, [], length: (32u << 20) + 1);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void Export_name_length_0xffffffff_is_invalid_and_negotiation_goes_on()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(7, [.. RawNbdClient.U32(0xffffffff), 0, 0]);
        Assert.Equal(ErrInvalid, c.ReadOptionReply().Type);
        c.SendOption(7, RawNbdClient.InfoRequest(""));
        Assert.Equal(1u, c.ReadOptionReplies()[^1].Type);
    }

    [Fact]
    public void Unknown_option_gets_ERR_UNSUP_and_negotiation_goes_on()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(4242, [1, 2, 3]);
        Assert.Equal(ErrUnsup, c.ReadOptionReply().Type);
        c.SendOption(7, RawNbdClient.InfoRequest(""));
        Assert.Equal(1u, c.ReadOptionReplies()[^1].Type);
    }

    [Fact]
    public void STARTTLS_with_data_is_refused_and_negotiation_goes_on()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(5, [1]);
        Assert.True((c.ReadOptionReply().Type & 0x80000000) != 0);
        c.SendOption(7, RawNbdClient.InfoRequest(""));
        Assert.Equal(1u, c.ReadOptionReplies()[^1].Type);
    }

    [Fact]
    public void SET_META_CONTEXT_before_STRUCTURED_REPLY_is_invalid()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(10, RawNbdClient.MetaRequest("", "base:allocation"));
        Assert.Equal(ErrInvalid, c.ReadOptionReply().Type);
    }

    [Fact]
    public void LIST_META_CONTEXT_names_base_allocation_with_the_reserved_id_0_and_SET_gives_it_a_real_id()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(8, []);
        Assert.Equal(1u, c.ReadOptionReply().Type);

        foreach (var (option, expectedId) in new[] { (9u, 0u), (10u, Aio.Nbd.NbdSession.BaseAllocationId) })
        {
            c.SendOption(option, RawNbdClient.MetaRequest("", "base:allocation"));
            var replies = c.ReadOptionReplies();
            var context = Assert.Single(replies, r => r.Type == 4);
            Assert.Equal(expectedId, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(context.Data));
            Assert.Equal("base:allocation", System.Text.Encoding.ASCII.GetString(context.Data, 4, context.Data.Length - 4));
            Assert.Equal(1u, replies[^1].Type);
        }

        Assert.NotEqual(0u, Aio.Nbd.NbdSession.BaseAllocationId);
    }

    [Fact]
    public void A_meta_context_request_over_64_KiB_gets_ERR_TOO_BIG_and_negotiation_goes_on()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(8, []);
        Assert.Equal(1u, c.ReadOptionReply().Type);
        c.SendOption(10, RawNbdClient.MetaRequest("", "base:allocation"));
        Assert.Equal(1u, c.ReadOptionReplies()[^1].Type);

        // Too big: refused, and (a SET replaces the previous selection even when it fails) base:allocation is no longer selected.
        var queries = Enumerable.Range(0, 20).Select(i => "base:" + new string('x', 4000) + i).ToArray();
        c.SendOption(10, RawNbdClient.MetaRequest("", queries));
        Assert.Equal(Aio.Nbd.NbdProtocol.RepErrTooBig, c.ReadOptionReply().Type);
        c.SendOption(Aio.Nbd.NbdProtocol.OptGo, RawNbdClient.InfoRequest(""));
        Assert.Equal(1u, c.ReadOptionReplies()[^1].Type);
        c.SendRequest(0, Aio.Nbd.NbdProtocol.CmdBlockStatus, 1, 0, 4096);
        Assert.Equal(Aio.Nbd.NbdProtocol.EINVAL, c.ReadStructuredError(1));
    }

    [Fact]
    public void BLOCK_STATUS_without_a_context_is_EINVAL_and_the_connection_goes_on()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate(structured: true);
        c.SendRequest(0, 7, 1, 0, 4096);
        Assert.Equal(22u, c.ReadStructuredError(1));
        c.SendRequest(0, 3, 2, 0, 0);
        Assert.Equal(0u, c.ReadStructuredError(2));
    }

    [Fact]
    public void Requests_past_the_end_get_EINVAL_or_ENOSPC_and_touch_nothing()
    {
        using var server = new NbdTestServer(size: 1 << 20);
        using var c = new RawNbdClient(server.SocketPath);
        var (size, _) = c.Negotiate();
        Assert.Equal(1UL << 20, size);
        c.SendRequest(0, 0, 1, size - 512, 1024);
        Assert.Equal(22u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 1, 2, size - 512, 1024, new byte[1024]);
        Assert.Equal(28u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 4, 3, size, 1);
        Assert.Equal(22u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 6, 4, size + 4096, 4096);
        Assert.Equal(28u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 0, 5, size - 512, 512);
        Assert.Equal(0u, c.ReadSimpleReply(512).Error);
        Assert.Equal(1L << 20, new FileInfo(server.ImagePath).Length);
    }

    [Fact]
    public void Offset_plus_length_overflowing_64_bits_is_refused()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate();
        c.SendRequest(0, 0, 1, ulong.MaxValue - 10, 4096);
        Assert.Equal(22u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 1, 2, ulong.MaxValue - 10, 16, new byte[16]);
        Assert.Equal(28u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 4, 3, long.MaxValue, uint.MaxValue);
        Assert.Equal(22u, c.ReadSimpleReply().Error);
    }

    [Fact]
    public void WRITE_on_a_read_only_export_is_EPERM_and_its_payload_is_consumed()
    {
        using var server = new NbdTestServer(readOnly: true);
        using var c = new RawNbdClient(server.SocketPath);
        var (_, flags) = c.Negotiate();
        Assert.True((flags & 2) != 0, "READ_ONLY not advertised");
        var payload = new byte[8192];
        payload.AsSpan().Fill(0x25);   // looks like request magic bytes if it were parsed as a header
        c.SendRequest(0, 1, 1, 0, (uint)payload.Length, payload);
        c.SendRequest(0, 0, 2, 0, 4096);
        Assert.Equal((1u, 1UL), (c.ReadSimpleReply().Error, 1UL));
        var read = c.ReadSimpleReply(4096);
        Assert.Equal((0u, 2UL), (read.Error, read.Cookie));
        Assert.All(read.Data, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Unknown_command_is_EINVAL_and_the_connection_goes_on()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate();
        c.SendRequest(0, 99, 1, 0, 0);
        Assert.Equal(22u, c.ReadSimpleReply().Error);
        c.SendRequest(0x40, 0, 2, 0, 512);
        Assert.Equal(22u, c.ReadSimpleReply().Error);
        c.SendRequest(0, 0, 3, 0, 512);
        Assert.Equal(0u, c.ReadSimpleReply(512).Error);
    }

    [Fact]
    public void Requests_over_the_maximum_payload_are_refused()
    {
        using var server = new NbdTestServer(size: 128 << 20);
        using (var c = new RawNbdClient(server.SocketPath))
        {
            c.Negotiate();
            c.SendRequest(0, 0, 1, 0, 64u << 20);
            Assert.Equal(22u, c.ReadSimpleReply().Error);
            c.SendRequest(0, 0, 2, 0, 512);
            Assert.Equal(0u, c.ReadSimpleReply(512).Error);
        }

        // With structured replies such a READ is legal; the server may refuse it with EOVERFLOW (retry smaller).
        using (var c = new RawNbdClient(server.SocketPath))
        {
            c.Negotiate(structured: true);
            c.SendRequest(0, 0, 1, 0, 64u << 20);
            Assert.Equal(Aio.Nbd.NbdProtocol.EOVERFLOW, c.ReadStructuredError(1));
            c.SendRequest(0, 0, 2, 0, 512);
            Assert.Equal(0u, c.ReadStructuredError(2));
        }

        using (var c = new RawNbdClient(server.SocketPath))
        {
            c.Negotiate();
            c.SendRequest(0, 1, 1, 0, 64u << 20);
            Assert.True(c.IsClosedByServer(), "a WRITE payload over the maximum should end the connection");
        }

        // The operator learns why the client was dropped.
        Wait.Until(() => server.LogLines.Any(l => l.Contains("WRITE of 67108864 bytes, over the maximum payload", StringComparison.Ordinal)), () => Thread.Sleep(10), "the server to log the dropped WRITE");
    }

    [Fact]
    public void Bad_request_magic_drops_the_connection()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate();
        c.SendRequest(0, 0, 1, 0, 512, magic: 0x12345678);
        Assert.True(c.IsClosedByServer());
        Wait.Until(() => server.LogLines.Any(l => l.Contains("bad request magic 0x12345678", StringComparison.Ordinal)), () => Thread.Sleep(10), "the server to log the bad magic");
    }

    [Fact]
    public void A_client_that_connects_and_closes_leaves_the_server_serving()
    {
        using var server = new NbdTestServer();
        for (int i = 0; i < 20; i++)
        {
            using var probe = new RawNbdClient(server.SocketPath);
        }

        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate();
        c.SendRequest(0, 0, 1, 0, 512);
        Assert.Equal(0u, c.ReadSimpleReply(512).Error);
        Wait.Until(() => server.Server.ConnectionCount == 1, () => Thread.Sleep(5), "the probes' connections to close");
    }

    [Fact]
    public void A_client_that_never_finishes_the_handshake_is_dropped_after_the_timeout()
    {
        using var server = new NbdTestServer(configure: o => o with { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        // Started before the connect: the server's clock starts at the accept, after it, so a slow greeting cannot make
        // the drop look early.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var c = new RawNbdClient(server.SocketPath);
        c.ReadGreeting();
        Assert.True(c.IsClosedByServer(), "not dropped within the receive timeout");
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(250), $"dropped too early ({sw.Elapsed})");
    }

    [Fact]
    public void DISC_answers_every_request_read_before_it_then_closes()
    {
        using var server = new NbdTestServer();
        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate();
        for (ulong i = 0; i < 50; i++)
        {
            c.SendRequest(0, 0, i, i * 65536, 65536);
        }

        c.SendRequest(0, 2, 999, 0, 0);
        var cookies = new HashSet<ulong>();
        for (int i = 0; i < 50; i++)
        {
            var r = c.ReadSimpleReply(65536);
            Assert.Equal(0u, r.Error);
            cookies.Add(r.Cookie);
        }

        Assert.Equal(50, cookies.Count);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void Connections_over_the_maximum_never_complete_a_handshake()
    {
        using var server = new NbdTestServer(configure: o => o with { MaxConnections = 2 });
        using var a = new RawNbdClient(server.SocketPath);
        a.ReadGreeting();
        using var b = new RawNbdClient(server.SocketPath);
        b.ReadGreeting();
        using var extra = new RawNbdClient(server.SocketPath);
        Assert.Throws<EndOfStreamException>(() => extra.ReadGreeting());
    }
}
