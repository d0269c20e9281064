using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.Nbd;

/// <summary>
/// Replies over TLS leave from the loop in batches: SslStream's writes complete at once into the connection's record
/// buffer and a batch goes out in one send, instead of each record's write coming back through the thread pool.
/// Alone in the process: it counts the pool's work items.
/// </summary>
[Collection(ProcessStateCollection.Name)]
public sealed class NbdTlsBatchingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(4096, 64, 20)]
    [InlineData(1 << 20, 4, 10)] // Each reply over the collect limit: SslStream's writes wait for a flush of the batch.
    public void Pipelined_reads_over_TLS_come_back_intact_without_a_thread_pool_round_trip_per_reply(int length, int depth, int rounds)
    {
        using var certs = new TempDir();
        var cert = TlsCertificates.Create(certs.Path);
        using var server = new NbdTestServer(random: true, configure: o => o with { TlsCertificate = cert, TlsRequired = true });
        byte[] image = File.ReadAllBytes(server.ImagePath);
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(5, []);                                   // STARTTLS
        Assert.Equal(1u, c.ReadOptionReply().Type);

        // A synchronous client on this thread: the pool's work items are the server's.
        using var tls = new SslStream(new NetworkStream(c.Socket, ownsSocket: false), false, (_, _, _, _) => true);
        tls.AuthenticateAsClient("localhost");
        tls.ReadTimeout = 10_000;
        NbdTlsTests.SendOption(tls, 7, RawNbdClient.InfoRequest(""));
        while (NbdTlsTests.ReadOptionReply(tls).Type != 1)
        {
        }

        var random = new Random(64);
        Burst(tls, image, random, depth, length);                // warm-up

        // The count is the process's: first let work an earlier test left on the pool finish.
        Aio.Tests.Support.ThreadPoolQuiet.Wait();
        long before = ThreadPool.CompletedWorkItemCount;
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        for (int round = 0; round < rounds; round++)
        {
            Burst(tls, image, random, depth, length);
        }

        elapsed.Stop();
        double perReply = (double)(ThreadPool.CompletedWorkItemCount - before) / (rounds * depth);
        output.WriteLine($"{perReply:F3} pool work items per TLS reply, {elapsed.ElapsedMilliseconds} ms");

        // Said in full if it fails (once in a full run, 3.1 for 1 MiB replies, never alone): whether the loops had their
        // rings, how long the rounds took (background work on the pool adds up over a stall), and what else the process
        // had on the pool.
        Assert.True(
            perReply < 0.25,
            $"{perReply:F2} thread-pool work items per TLS reply in {elapsed.ElapsedMilliseconds} ms: the replies' writes went through the pool " +
            $"(loops with io_uring: {server.Server.Group.Threads.Count(t => t.Context.HasIoUring)} of {server.Server.Group.Threads.Count}; " +
            $"pool threads {ThreadPool.ThreadCount}, pending {ThreadPool.PendingWorkItemCount}, timers {Timer.ActiveCount})");
    }

    /// <summary><paramref name="depth"/> READs of <paramref name="length"/> sent in one write, then every reply read and checked against the image.</summary>
    private static void Burst(SslStream tls, byte[] image, Random random, int depth, int length)
    {
        var requests = new byte[28 * depth];
        var offsets = new long[depth];
        for (int i = 0; i < depth; i++)
        {
            offsets[i] = 4096L * random.Next(0, (image.Length - length) / 4096);
            var r = requests.AsSpan(28 * i, 28);
            BinaryPrimitives.WriteUInt32BigEndian(r, 0x25609513);
            BinaryPrimitives.WriteUInt64BigEndian(r[8..], (ulong)i);
            BinaryPrimitives.WriteUInt64BigEndian(r[16..], (ulong)offsets[i]);
            BinaryPrimitives.WriteUInt32BigEndian(r[24..], (uint)length);
        }

        tls.Write(requests);
        var seen = new bool[depth];
        var reply = new byte[16 + length];
        for (int i = 0; i < depth; i++)
        {
            tls.ReadExactly(reply);
            Assert.Equal(0x67446698u, BinaryPrimitives.ReadUInt32BigEndian(reply));
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)));
            int cookie = (int)BinaryPrimitives.ReadUInt64BigEndian(reply.AsSpan(8));
            Assert.False(seen[cookie], $"a second reply for request {cookie}");
            seen[cookie] = true;
            Assert.True(reply.AsSpan(16).SequenceEqual(image.AsSpan((int)offsets[cookie], length)), $"request {cookie}'s data differs");
        }
    }
}
