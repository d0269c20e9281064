using System.Buffers.Binary;
using System.Net.Sockets;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>A seeded, bounded fuzz of handshakes, options and requests against a server in the test process.</summary>
public class NbdFuzzTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_handshakes_options_and_requests_never_break_the_server_or_the_export(int seed)
    {
        const int size = (1 << 20) + 512;
        using var server = new NbdTestServer(size: size, configure: o => o with { HandshakeTimeout = TimeSpan.FromSeconds(2) });
        var random = new Random(seed);
        for (int round = 0; round < 60; round++)
        {
            using var c = new RawNbdClient(server.SocketPath);
            c.Socket.ReceiveTimeout = 2000;
            try
            {
                switch (random.Next(3))
                {
                    case 0:
                        c.ReadGreeting();
                        c.Send(RandomBytes(random, random.Next(0, 64)));
                        break;
                    case 1:
                        c.Hello();
                        for (int i = 0; i < 8; i++)
                        {
                            uint option = (uint)random.Next(0, 14);
                            byte[] data = random.Next(4) == 0 ? RawNbdClient.InfoRequest(random.Next(2) == 0 ? "" : "x", 0, 1, 2, 3) : RandomBytes(random, random.Next(0, 40));
                            c.SendOption(option, data, random.Next(10) == 0 ? (uint)random.Next() : null);
                        }

                        break;
                    default:
                        c.Negotiate(structured: random.Next(2) == 0);
                        for (int i = 0; i < 20; i++)
                        {
                            ushort type = (ushort)random.Next(0, 10);
                            ushort flags = (ushort)(random.Next(4) == 0 ? random.Next(0, 1 << 16) : 0);
                            ulong offset = random.Next(4) switch
                            {
                                0 => (ulong)random.NextInt64(0, size),
                                1 => (ulong)(size - random.Next(0, 8192)),
                                2 => ulong.MaxValue - (ulong)random.Next(0, 1 << 20),
                                _ => (ulong)random.NextInt64(),
                            };
                            uint length = random.Next(3) == 0 ? (uint)random.Next() : (uint)random.Next(0, 70000);
                            byte[]? payload = type == 1 && length <= 70000 ? RandomBytes(random, (int)length) : null;
                            c.SendRequest(flags, type, (ulong)i, offset, length, payload, magic: random.Next(50) == 0 ? 0xdeadbeef : 0x25609513);
                        }

                        break;
                }
            }
            catch (SocketException)
            {
                // The server may drop a bad client at any point: that is a correct answer.
            }
            catch (EndOfStreamException)
            {
            }
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "every fuzz connection to close");
        Assert.Equal(size, new FileInfo(server.ImagePath).Length);

        // The server still serves correctly.
        using var check = new RawNbdClient(server.SocketPath);
        check.Negotiate();
        var pattern = RandomBytes(random, 4096);
        check.SendRequest(0, 1, 1, 8192, 4096, pattern);
        Assert.Equal(0u, check.ReadSimpleReply().Error);
        check.SendRequest(0, 0, 2, 8192, 4096);
        Assert.Equal(pattern, check.ReadSimpleReply(4096).Data);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var b = new byte[length];
        random.NextBytes(b);
        if (length >= 8 && random.Next(3) == 0)
        {
            BinaryPrimitives.WriteUInt64BigEndian(b, RawNbdClient.IHaveOpt);
        }

        return b;
    }
}
