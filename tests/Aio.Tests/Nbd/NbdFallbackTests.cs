using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>Without io_uring (epoll or poll loops: sockets on fd handlers, BlockFile on threads) the server is slower but the same.</summary>
public class NbdFallbackTests
{
    [Theory]
    [InlineData(FdMonitorKind.Epoll)]
    [InlineData(FdMonitorKind.Poll)]
    public void Without_io_uring_raw_requests_and_unaligned_writes_are_served_the_same(FdMonitorKind monitor)
    {
        using var server = new NbdTestServer(size: (1 << 20) + 100, configure: o => o with { LoopOptions = new AioContextOptions { Monitor = monitor } });
        using var c = new RawNbdClient(server.SocketPath);
        c.Negotiate(structured: true, meta: true);
        var pattern = new byte[5000];
        new Random(3).NextBytes(pattern);
        for (ulong i = 0; i < 32; i++)
        {
            c.SendRequest(0, 1, i, 1000 + (i * 5000), 5000, pattern);
        }

        var done = new HashSet<ulong>();
        for (int i = 0; i < 32; i++)
        {
            var r = c.ReadReply();
            Assert.True(r.Simple || (r.Flags & 1) != 0);
            Assert.Equal(0u, r.SimpleError);
            done.Add(r.Cookie);
        }

        Assert.Equal(32, done.Count);
        c.SendRequest(1, 1, 100, (1 << 20) + 50, 50, pattern[..50]);
        Assert.Equal(0u, c.ReadStructuredError(100));
        var bytes = File.ReadAllBytes(server.ImagePath);
        Assert.Equal((1 << 20) + 100, bytes.Length);
        for (int i = 0; i < 32; i++)
        {
            Assert.True(pattern.AsSpan().SequenceEqual(bytes.AsSpan(1000 + (i * 5000), 5000)), $"write {i} differs");
        }

        Assert.True(pattern.AsSpan(0, 50).SequenceEqual(bytes.AsSpan((1 << 20) + 50)));
        Assert.All(bytes.AsSpan(0, 1000).ToArray(), b => Assert.Equal(0, b));
    }
}
