using System.Buffers.Binary;

namespace Aio.Nbd;

/// <summary>The first phase: the server's greeting and the client's flags (fixed newstyle only).</summary>
internal static class NbdHandshake
{
    /// <summary>Sends the greeting and reads the client flags; false if the client must be dropped.</summary>
    public static async ValueTask<bool> RunAsync(NbdTransport transport, NbdSession session, CancellationToken ct)
    {
        byte[] greeting = new byte[18];
        BinaryPrimitives.WriteUInt64BigEndian(greeting, NbdProtocol.NbdMagic);
        BinaryPrimitives.WriteUInt64BigEndian(greeting.AsSpan(8), NbdProtocol.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(greeting.AsSpan(16), NbdProtocol.FlagFixedNewstyle | NbdProtocol.FlagNoZeroes);
        await transport.SendAsync(greeting, ct).ConfigureAwait(true);

        byte[] flags = new byte[4];
        if (!await transport.ReadExactAsync(flags, ct).ConfigureAwait(true))
        {
            return false;
        }

        uint clientFlags = BinaryPrimitives.ReadUInt32BigEndian(flags);
        if ((clientFlags & ~(NbdProtocol.ClientFlagFixedNewstyle | NbdProtocol.ClientFlagNoZeroes)) != 0)
        {
            // An unknown bit, or one the server did not advertise: the protocol says drop the connection.
            return false;
        }

        session.FixedNewstyle = (clientFlags & NbdProtocol.ClientFlagFixedNewstyle) != 0;
        session.NoZeroes = (clientFlags & NbdProtocol.ClientFlagNoZeroes) != 0;
        return true;
    }
}
