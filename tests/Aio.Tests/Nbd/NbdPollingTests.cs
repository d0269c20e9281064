using System.Net.Sockets;
using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// <see cref="NbdServerOptions.PollMaxNs"/> sets the loops' busy-poll ceiling before the server listens: 0 and they
/// never poll, a ceiling far above a read's latency and they catch the reads by polling.
/// </summary>
public class NbdPollingTests
{
    private const int Reads = 200;

    [Theory]
    [InlineData(0L)]
    [InlineData(100_000_000L)]
    public void PollMaxNs_is_the_loops_busy_poll_ceiling_from_the_first_client_on(long pollMaxNs)
    {
        using var server = new NbdTestServer(size: 4 << 20, direct: true, random: true, configure: o => o with { PollMaxNs = pollMaxNs });

        // The image's pages written back first: an O_DIRECT read of a page still dirty waits for its write-back, which
        // beside the rest of the suite (a busy disk) took longer than the ceiling, and every read then shrank the window.
        using (var image = new FileStream(server.ImagePath, FileMode.Open, FileAccess.ReadWrite))
        {
            image.Flush(flushToDisk: true);
        }

        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate();

        // One O_DIRECT read at a time: each is a BlockFile request in flight while its loop waits for it.
        for (ulong i = 0; i < Reads; i++)
        {
            client.SendRequest(0, 0, i, (i * 7919 % 1024) * 4096, 4096);
            var reply = client.ReadReply();
            Assert.Equal(0u, reply.SimpleError);
            Assert.Equal(4096, client.Receive(4096).Length);
        }

        long found = 0, empty = 0;
        foreach (var thread in server.Server.Group.Threads)
        {
            var s = thread.Context.Statistics;
            found += s.PollSuccesses;
            empty += s.PollFailures;
        }

        if (pollMaxNs == 0)
        {
            Assert.True(found + empty == 0, $"the loops polled {found + empty} times with polling off");
        }
        else
        {
            Assert.True(found > 0, $"no read of {Reads} was caught by polling under a 100 ms ceiling ({empty} polls found nothing)");
        }
    }

    [Fact]
    public void PollMaxNs_keeps_the_growth_factors_of_LoopOptions()
    {
        using var server = new NbdTestServer(size: 1 << 20, configure: o => o with
        {
            PollMaxNs = 0,
            LoopOptions = new AioContextOptions { PollGrow = 4, PollShrink = 3 },
        });
        Assert.All(server.Server.Group.Threads, t =>
        {
            Assert.Equal(0, t.Context.PollCeilingNs);
            Assert.Equal(4, t.Context.PollGrowFactor);
            Assert.Equal(3, t.Context.PollShrinkDivisor);
        });
    }

    [Fact]
    public void A_negative_PollMaxNs_is_refused_before_anything_listens()
    {
        using var dir = new TempDir();
        var (image, _) = dir.CreateFile("disk.img", 1 << 20);
        string socket = Path.Combine(dir.Path, "s.sock");
        var options = new NbdServerOptions
        {
            Exports = [new NbdExportOptions { Path = image }],
            Listen = [new UnixDomainSocketEndPoint(socket)],
            PollMaxNs = -1,
        };

        Assert.Throws<ArgumentOutOfRangeException>(() => NbdServer.Start(options));
        Assert.False(File.Exists(socket), "a refused start bound its socket");
    }
}
