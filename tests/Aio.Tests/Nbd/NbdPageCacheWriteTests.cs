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
        using var client = new RawNbdClient(server.SocketPath);
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
            burst.AddRange(Request(i % 10 == 9 ? FlagFua : (ushort)0, (ulong)i, offset, payload));
            if (i == Writes / 2)
            {
                burst.AddRange(Request(0, Refused, Size - 100, new byte[4096]));
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
    }

    private static byte[] Request(ushort flags, ulong cookie, long offset, byte[] payload)
    {
        var header = new byte[28];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header, 0x25609513);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), flags);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), CmdWrite);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(8), cookie);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(16), (ulong)offset);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), (uint)payload.Length);
        return [.. header, .. payload];
    }
}
