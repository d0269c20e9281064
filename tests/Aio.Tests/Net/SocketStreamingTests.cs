using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

public class SocketStreamingTests
{
    /// <summary>A pattern whose period (1 MiB + 7) divides no write or read size, so a reordered or repeated chunk shows.</summary>
    private const int Period = (1 << 20) + 7;

    private static readonly byte[] s_pattern = MakePattern();

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_gibibyte_streams_each_way_with_its_content_intact(FdMonitorKind kind)
    {
        const long Total = 1L << 30;
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var up = Task.Run(() => SendPatternAsync(client, Total));
            var upChecked = Task.Run(() => ReceivePatternAsync(server, Total));
            var down = Task.Run(() => SendPatternAsync(server, Total));
            var downChecked = Task.Run(() => ReceivePatternAsync(client, Total));
            try
            {
                await Task.WhenAll(up, upChecked, down, downChecked).WaitAsync(TimeSpan.FromSeconds(120));
            }
            catch (TimeoutException)
            {
                Assert.Fail($"1 GiB each way did not finish in 120 s: up sent {up.Status}, checked {upChecked.Status}; down sent {down.Status}, checked {downChecked.Status}; " +
                    $"server queued {server.QueuedReceiveBuffers} armed {server.ReceiveArmed}; client queued {client.QueuedReceiveBuffers} armed {client.ReceiveArmed}");
            }

            Assert.Equal(Total, upChecked.Result);
            Assert.Equal(Total, downChecked.Result);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_send_of_more_segments_than_IOV_MAX_arrives_whole_and_in_order(FdMonitorKind kind)
    {
        const int Segments = 3000;
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var sequence = Sequences.Segmented(Segments, i => BitConverter.GetBytes(i));
            var expected = sequence.ToArray();
            var received = new byte[expected.Length];
            var receiving = NetLoops.ReceiveExactlyAsync(server, received);
            await client.SendAsync(sequence).AsTask().WaitAsync(Wait.Default);
            await receiving.WaitAsync(Wait.Default);
            Assert.True(expected.AsSpan().SequenceEqual(received), "the gathered segments arrived changed or out of order");
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task SslStream_over_AsStream_talks_to_SslStream_over_a_NetworkStream(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        using var certificate = SelfSigned();
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        using var peer = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(listener.LocalEndPoint).Within("the peer's connect");
        await using var server = await accept.WaitAsync(Wait.Default);

        await using var serverTls = new SslStream(server.AsStream());
        await using var clientTls = new SslStream(new NetworkStream(peer), false, (_, _, _, _) => true);
        await Task.WhenAll(
            serverTls.AuthenticateAsServerAsync(certificate),
            clientTls.AuthenticateAsClientAsync("localhost")).WaitAsync(Wait.Default);

        using var reader = new StreamReader(serverTls, Encoding.UTF8, leaveOpen: true);
        await clientTls.WriteAsync(Encoding.UTF8.GetBytes("hello over TLS\n")).Within("the client's TLS write");
        Assert.Equal("hello over TLS", await reader.ReadLineAsync().WaitAsync(Wait.Default));

        var payload = RandomNumberGenerator.GetBytes(1 << 20);
        var copy = new MemoryStream();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[16384];
            while (copy.Length < payload.Length)
            {
                int n = await clientTls.ReadAsync(buffer);
                Assert.True(n > 0, "TLS stream ended early");
                copy.Write(buffer, 0, n);
            }
        });
        await serverTls.WriteAsync(payload).Within("the server's TLS write of the payload");
        await reading.WaitAsync(Wait.Default);
        Assert.True(payload.AsSpan().SequenceEqual(copy.ToArray()), "the TLS payload came back changed");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task The_stream_behaves_like_NetworkStream_synchronously_too_and_wraps_errors_in_IOException(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        var stream = server.AsStream();
        await using (client)
        {
            stream.Write("sync"u8);
            var buffer = new byte[4];
            await NetLoops.ReceiveExactlyAsync(client, buffer);
            Assert.Equal("sync"u8.ToArray(), buffer);
            await client.SendAsync("back"u8.ToArray()).Within("the client's send");
            int got = 0;
            while (got < 4)
            {
                int n = stream.Read(buffer, got, 4 - got);
                Assert.True(n > 0, $"the peer closed after {got} bytes");
                got += n;
            }

            Assert.Equal("back"u8.ToArray(), buffer);
            client.Abort();
            var error = await Assert.ThrowsAsync<IOException>(async () => await stream.ReadAsync(buffer).AsTask().WaitAsync(Wait.Default));
            Assert.IsType<SocketException>(error.InnerException);
            await stream.DisposeAsync();
            Assert.Throws<ObjectDisposedException>(() => { _ = server.ReceiveAsync(buffer); });
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Completing_both_ends_of_a_pipe_closes_the_socket_though_the_peer_stays_silent(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using var _ = client;
        var pipe = server.AsPipe();

        // The receive pump waits in the socket's receive; the peer sends nothing and keeps its end open.
        await pipe.Input.CompleteAsync();
        await pipe.Output.CompleteAsync();
        Wait.Until(() => server.IsDisposed, () => Thread.Sleep(5), "the pipe to close its socket");

        // The peer sees the end: the FIN of the output's shutdown.
        Assert.Equal(0, await client.ReceiveAsync(new byte[16]).AsTask().WaitAsync(Wait.Default));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Completing_a_pipes_output_with_an_error_resets_the_connection_instead_of_ending_it(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using var _ = client;
        var pipe = server.AsPipe();

        // Half a message, then the application fails; its input stays open (the peer is silent).
        await pipe.Output.WriteAsync(Encoding.ASCII.GetBytes("half a mess"));
        await pipe.Output.CompleteAsync(new InvalidOperationException("the application failed mid-message"));

        // The peer reads what arrived, then a reset: never the clean end (0) a whole message would end with.
        var buffer = new byte[64];
        var reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (true)
            {
                int n = await client.ReceiveAsync(buffer).AsTask().WaitAsync(Wait.Default);
                Assert.True(n > 0, "the peer saw an orderly end (FIN) after a message cut short");
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        Wait.Until(() => server.IsDisposed, () => Thread.Sleep(5), "the pipe to close its socket");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pipe_round_trip_carries_every_byte_and_completing_the_output_ends_the_peer_input(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        var serverPipe = server.AsPipe();
        var clientPipe = client.AsPipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));

        // The server echoes through its pipe until its input ends, then completes its output.
        var echo = Task.Run(async () =>
        {
            while (true)
            {
                var result = await serverPipe.Input.ReadAsync();
                foreach (var segment in result.Buffer)
                {
                    await serverPipe.Output.WriteAsync(segment);
                }

                serverPipe.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            await serverPipe.Input.CompleteAsync();
            await serverPipe.Output.CompleteAsync();
        });

        const int Total = 8 << 20;
        var reading = Task.Run(async () =>
        {
            long offset = 0;
            while (true)
            {
                var result = await clientPipe.Input.ReadAsync();
                foreach (var segment in result.Buffer)
                {
                    Assert.True(Matches(segment.Span, offset), $"echoed bytes at {offset} are wrong");
                    offset += segment.Length;
                }

                clientPipe.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return offset;
                }
            }
        });

        for (long sent = 0; sent < Total; sent += 100_000)
        {
            int n = (int)Math.Min(100_000, Total - sent);
            await clientPipe.Output.WriteAsync(PatternAt(sent, n)).Within("the client pipe's write");
        }

        await clientPipe.Output.CompleteAsync();

        // A failure on the server side (its pump or the echo) would only show as echoed bytes that stop: surface it.
        if (await Task.WhenAny(reading, echo).WaitAsync(TimeSpan.FromSeconds(60)) == echo)
        {
            await echo;
        }

        Assert.Equal(Total, await reading.WaitAsync(TimeSpan.FromSeconds(60)));
        await clientPipe.Input.CompleteAsync();
        await echo.WaitAsync(Wait.Default);
    }

    private static async Task SendPatternAsync(AioSocket socket, long total)
    {
        const int Chunk = 1 << 20;
        for (long sent = 0; sent < total; sent += Chunk)
        {
            int n = (int)Math.Min(Chunk, total - sent);
            await socket.SendAsync(PatternAt(sent, n));
        }
    }

    private static async Task<long> ReceivePatternAsync(AioSocket socket, long total)
    {
        var buffer = new byte[256 * 1024 + 3];
        long received = 0;
        while (received < total)
        {
            int n = await socket.ReceiveAsync(buffer);
            if (n == 0)
            {
                break;
            }

            if (!Matches(buffer.AsSpan(0, n), received))
            {
                throw new InvalidDataException($"bytes at {received} are wrong");
            }

            received += n;
        }

        return received;
    }

    /// <summary><paramref name="length"/> bytes of the pattern from stream offset <paramref name="offset"/>.</summary>
    private static ReadOnlyMemory<byte> PatternAt(long offset, int length)
    {
        int start = (int)(offset % Period);
        return s_pattern.AsMemory(start, length);
    }

    private static bool Matches(ReadOnlySpan<byte> data, long offset)
        => data.SequenceEqual(s_pattern.AsSpan((int)(offset % Period), data.Length));

    private static byte[] MakePattern()
    {
        // Period bytes, then enough of a repeat that any slice of up to 2 MiB can be taken without wrapping.
        var pattern = new byte[Period + (2 << 20)];
        new Random(7).NextBytes(pattern.AsSpan(0, Period));
        for (int i = Period; i < pattern.Length; i++)
        {
            pattern[i] = pattern[i - Period];
        }

        return pattern;
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }
}
