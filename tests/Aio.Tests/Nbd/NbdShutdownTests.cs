using System.Buffers.Binary;
using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// A server stopping while clients negotiate: an option the client was sending, and every one after it, is answered
/// ERR_SHUTDOWN (the protocol's reply to options during a shutdown), and the ABORT the client is to send then is
/// acknowledged; a client that sends nothing more is closed after the grace, not at its handshake deadline.
/// </summary>
public class NbdShutdownTests
{
    [Fact]
    public void An_option_begun_before_the_stop_gets_ERR_SHUTDOWN_and_the_ABORT_that_follows_its_ACK()
    {
        using var server = NewServer();
        using var client = new RawNbdClient(server.SocketPath);
        InOptionPhase(client);

        // Half of an INFO request is sent before the stop, the rest after it: whether or not the server had read the
        // first half when the stop came, the option is read to its end and refused.
        byte[] info = RawNbdClient.InfoRequest(string.Empty, NbdProtocol.InfoBlockSize);
        var stopping = SendAcrossTheStop(server, client, [.. OptionHeader(NbdProtocol.OptInfo, (uint)info.Length), .. info], before: 19);

        var (option, type, text) = client.ReadOptionReply();
        Assert.Equal(NbdProtocol.OptInfo, option);
        Assert.Equal(NbdProtocol.RepErrShutdown, type);
        Assert.Contains("shutting down", System.Text.Encoding.UTF8.GetString(text), StringComparison.Ordinal);

        // Another option is refused the same way; the soft disconnect the protocol asks of the client is acknowledged.
        client.SendOption(NbdProtocol.OptList, []);
        Assert.Equal((NbdProtocol.OptList, NbdProtocol.RepErrShutdown), TypeOf(client.ReadOptionReply()));
        client.SendOption(NbdProtocol.OptAbort, []);
        Assert.Equal((NbdProtocol.OptAbort, NbdProtocol.RepAck), TypeOf(client.ReadOptionReply()));
        Assert.True(client.IsClosedByServer(), "the connection stayed open after ABORT");
        Wait.For(stopping, "the server to stop after refusing the option");
    }

    [Fact]
    public void A_client_that_goes_on_after_ERR_SHUTDOWN_is_closed_after_the_grace()
    {
        using var server = NewServer();
        using var client = new RawNbdClient(server.SocketPath);
        InOptionPhase(client);

        var stopping = SendAcrossTheStop(server, client, OptionHeader(NbdProtocol.OptList, 0), before: 9);
        Assert.Equal((NbdProtocol.OptList, NbdProtocol.RepErrShutdown), TypeOf(client.ReadOptionReply()));

        // Then nothing: the grace, not the 5-minute handshake deadline, ends the connection within the wait's bound.
        Wait.For(stopping, "the server to stop with a client that ignored ERR_SHUTDOWN");
        Assert.True(client.IsClosedByServer(), "the connection stayed open after the grace");
    }

    [Fact]
    public void A_client_idle_in_negotiation_is_closed_after_the_grace_not_at_its_deadline()
    {
        // With a 5-minute handshake deadline, only the grace can end this connection within the wait's bound.
        using var server = NewServer();
        using var client = new RawNbdClient(server.SocketPath);
        InOptionPhase(client);

        var stopping = server.Server.DisposeAsync().AsTask();
        Wait.For(stopping, "the server to stop with a client idle in negotiation");
        Assert.True(client.IsClosedByServer(), "the idle client's connection was not closed");
    }

    [Fact]
    public void EXPORT_NAME_during_the_stop_gets_no_reply_but_a_close()
    {
        // EXPORT_NAME has no error reply: the connection closes, as for an unknown export.
        using var server = NewServer();
        using var client = new RawNbdClient(server.SocketPath);
        InOptionPhase(client);

        var stopping = SendAcrossTheStop(server, client, OptionHeader(NbdProtocol.OptExportName, 0), before: 12);

        // Not the export's size and flags (which a close after a successful EXPORT_NAME would follow): nothing, then EOF.
        var buffer = new byte[64];
        Assert.Equal(0, client.Socket.Receive(buffer));
        Wait.For(stopping, "the server to stop");
    }

    [Fact]
    public void ABORT_during_the_stop_is_still_acknowledged()
    {
        using var server = NewServer();
        using var client = new RawNbdClient(server.SocketPath);
        InOptionPhase(client);

        var stopping = SendAcrossTheStop(server, client, OptionHeader(NbdProtocol.OptAbort, 0), before: 10);

        var (option, type, _) = client.ReadOptionReply();
        Assert.Equal(NbdProtocol.OptAbort, option);
        Assert.Equal(NbdProtocol.RepAck, type);
        Assert.True(client.IsClosedByServer(), "the connection stayed open after ABORT");
        Wait.For(stopping, "the server to stop");
    }

    private static (uint Option, uint Type) TypeOf((uint Option, uint Type, byte[] Data) reply) => (reply.Option, reply.Type);

    /// <summary>A 5-minute handshake deadline: only the stop's grace can end a negotiation within the tests' waits.</summary>
    private static NbdTestServer NewServer() => new(configure: o => o with { HandshakeTimeout = TimeSpan.FromMinutes(5) });

    /// <summary>
    /// Sends the first <paramref name="before"/> bytes of <paramref name="message"/>, starts the server's stop, then
    /// sends the rest: whether or not the server had read the first part when the stop came, the message straddles it.
    /// </summary>
    private static Task SendAcrossTheStop(NbdTestServer server, RawNbdClient client, byte[] message, int before)
    {
        client.Send(message[..before]);
        var stopping = server.Server.DisposeAsync().AsTask();
        client.Send(message[before..]);
        return stopping;
    }

    /// <summary>An option's 16-byte header: IHAVEOPT, the option, the length of its data.</summary>
    private static byte[] OptionHeader(uint option, uint length)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, RawNbdClient.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), length);
        return header;
    }

    /// <summary>Greeting, flags and one answered option: the server is then waiting in the option phase.</summary>
    private static void InOptionPhase(RawNbdClient client)
    {
        client.Hello();
        client.SendOption(NbdProtocol.OptStructuredReply, []);
        var (option, type, _) = client.ReadOptionReply();
        Assert.Equal((NbdProtocol.OptStructuredReply, NbdProtocol.RepAck), (option, type));
    }
}
