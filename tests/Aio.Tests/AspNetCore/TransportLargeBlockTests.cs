using System.Net;
using System.Net.Sockets;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// The transport's use of <see cref="LargeBlockPool"/>: a large response goes out in 64 KiB blocks, intact, and every one
/// comes back; responses of a block or two never take one.
/// </summary>
public sealed class TransportLargeBlockTests
{
    [IoUringTheory]
    [InlineData(AioSchedulingMode.Loop)]
    [InlineData(AioSchedulingMode.ThreadPool)]
    public async Task A_1_MiB_response_goes_out_in_large_blocks_intact_and_every_block_comes_back(AioSchedulingMode mode)
    {
        await using var setup = await Setup.Start(mode);
        var body = new byte[1024 * 1024];
        for (int i = 0; i < body.Length; i++)
        {
            body[i] = (byte)(i % 251);
        }

        await setup.Write(body);
        var received = await setup.Receive(body.Length);
        Assert.True(body.AsSpan().SequenceEqual(received), "the 1 MiB response arrived changed");

        var large = setup.Large;
        Assert.True(large.Made > 0, "no 64 KiB block was used for a 1 MiB response");
        Assert.True(large.Made <= body.Length / LargeBlockPool.BlockSize, $"{large.Made} large blocks made for one 1 MiB response");
        await setup.Server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Wait.Until(() => large.Retained == large.Made, () => Thread.Sleep(5), $"every large block back in the pool ({large.Retained} of {large.Made})");
    }

    [IoUringTheory]
    [InlineData(AioSchedulingMode.Loop)]
    [InlineData(AioSchedulingMode.ThreadPool)]
    public async Task Small_responses_sent_one_by_one_never_take_a_large_block(AioSchedulingMode mode)
    {
        await using var setup = await Setup.Start(mode);
        var response = new byte[3000];
        var blocks = setup.Server.OutputBlocks;
        Assert.NotNull(blocks);
        for (int i = 0; i < 50; i++)
        {
            await setup.Write(response);
            await setup.Receive(response.Length);

            // The client has it once the kernel does; the pump marks the end of the burst after its completion.
            Wait.Until(() => blocks.RentsSinceDrained == 0, () => Thread.Sleep(1), $"the send pump to finish response {i}");
        }

        Assert.Equal(0, setup.Large.Made);
    }

    /// <summary>A transport with one loop, a client and the connection it accepted.</summary>
    private sealed class Setup : IAsyncDisposable
    {
        private readonly AioTransportFactory _factory;
        private readonly Microsoft.AspNetCore.Connections.IConnectionListener _listener;
        private readonly Socket _client;
        private readonly AioSchedulingMode _mode;

        private Setup(AioTransportFactory factory, Microsoft.AspNetCore.Connections.IConnectionListener listener, Socket client, AioConnection server, LargeBlockPool large, AioSchedulingMode mode)
        {
            _mode = mode;
            _factory = factory;
            _listener = listener;
            _client = client;
            Server = server;
            Large = large;
        }

        /// <summary>The accepted connection (disposed again by <see cref="DisposeAsync"/>, which is harmless).</summary>
        public AioConnection Server { get; }

        /// <summary>The loop's large blocks.</summary>
        public LargeBlockPool Large { get; }

        /// <summary>A transport with one loop in <paramref name="mode"/>, a listener, a client and the accepted connection.</summary>
        public static async Task<Setup> Start(AioSchedulingMode mode)
        {
            var options = new AioTransportOptions { LoopCount = 1, Scheduling = mode };
            var factory = new AioTransportFactory(Options.Create(options), NullLoggerFactory.Instance, new CountingMemoryPoolFactory());
            Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");
            var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.EndPoint).WaitAsync(Wait.Default);
            var server = (AioConnection)(await listener.AcceptAsync().AsTask().WaitAsync(Wait.Default))!;
            return new Setup(factory, listener, client, server, loops.Schedulers[0].LargeBlocks, mode);
        }

        /// <summary>Writes as Kestrel does in the mode: on the loop in Loop mode, on a pool thread otherwise.</summary>
        public Task Write(byte[] data)
        {
            Func<Task> write = async () => await Server.Transport.Output.WriteAsync(data);
            return (_mode == AioSchedulingMode.Loop ? Server.Loop.InvokeAsync(write) : Task.Run(write)).WaitAsync(Wait.Default);
        }

        /// <summary>Receives exactly <paramref name="size"/> bytes on the client.</summary>
        public async Task<byte[]> Receive(int size)
        {
            var buffer = new byte[size];
            int received = 0;
            while (received < size)
            {
                int n = await _client.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None).AsTask().WaitAsync(Wait.Default);
                Assert.NotEqual(0, n);
                received += n;
            }

            return buffer;
        }

        /// <summary>Closes the client, the connection, the listener and the transport.</summary>
        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            await Server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
            await _listener.DisposeAsync().AsTask().WaitAsync(Wait.Default);
            await _factory.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        }
    }
}
