using System.Buffers.Binary;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>Counts the process's fds, so it runs alone (no other test opening fds meanwhile).</summary>
[Collection(nameof(NbdFdLeakTests))]
[CollectionDefinition(nameof(NbdFdLeakTests), DisableParallelization = true)]
public class NbdFdLeakTests
{
    [Fact]
    public void A_client_that_disconnects_with_100_requests_in_flight_leaks_nothing()
    {
        using var server = new NbdTestServer();
        for (int i = 0; i < 2; i++)
        {
            // One connection per loop: each loop opens its own fd of the export on first use.
            using var warm = new RawNbdClient(server.SocketPath);
            warm.Negotiate();
            warm.SendRequest(0, 0, 1, 0, 4096);
            warm.ReadSimpleReply(4096);
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the warm-up connection to close");
        int fdsBefore = Directory.GetFiles("/proc/self/fd").Length;
        for (int round = 0; round < 3; round++)
        {
            using var c = new RawNbdClient(server.SocketPath);
            c.Negotiate();
            var burst = new List<byte>();
            for (int i = 0; i < 100; i++)
            {
                var h = new byte[28];
                BinaryPrimitives.WriteUInt32BigEndian(h, 0x25609513);
                BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)(i % 2 == 0 ? 0 : 1));
                BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(8), (ulong)i);
                BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(16), (ulong)i * 65536);
                BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(24), 65536);
                burst.AddRange(h);
                if (i % 2 == 1)
                {
                    burst.AddRange(new byte[65536]);
                }
            }

            c.Send([.. burst]);
            c.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the aborted connections to close");
        using var after = new RawNbdClient(server.SocketPath);
        after.Negotiate();
        after.SendRequest(0, 0, 7, 0, 512);
        Assert.Equal(0u, after.ReadSimpleReply(512).Error);
        after.Dispose();
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the last connection to close");
        Wait.Until(() => Directory.GetFiles("/proc/self/fd").Length <= fdsBefore, () => Thread.Sleep(5), $"fds back to {fdsBefore}");
    }
}
