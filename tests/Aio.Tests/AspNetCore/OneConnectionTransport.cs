using System.Net;
using System.Net.Sockets;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// A transport with one loop on a counting pool, a TCP client and the connection it accepted: what the transport's
/// block tests drive by hand, writing into the connection's output as Kestrel would and reading on the client.
/// </summary>
internal sealed class OneConnectionTransport : IAsyncDisposable
{
    private readonly AioTransportFactory _factory;
    private readonly IConnectionListener _listener;
    private readonly Socket _client;

    private OneConnectionTransport(AioSchedulingMode mode, CountingMemoryPoolFactory pool, AioTransportFactory factory, LoopPipeScheduler scheduler, IConnectionListener listener, Socket client, AioConnection server)
    {
        Mode = mode;
        Pool = pool;
        _factory = factory;
        Scheduler = scheduler;
        _listener = listener;
        _client = client;
        Server = server;
    }

    /// <summary>The transport's scheduling mode.</summary>
    public AioSchedulingMode Mode { get; }

    /// <summary>The transport's pool (Kestrel's, in a real host), counting what it has lent.</summary>
    public CountingMemoryPoolFactory Pool { get; }

    /// <summary>The transport's one loop.</summary>
    public LoopPipeScheduler Scheduler { get; }

    /// <summary>The accepted connection (disposed again by <see cref="DisposeAsync"/>, which is harmless).</summary>
    public AioConnection Server { get; }

    /// <summary>Starts the transport in <paramref name="mode"/>, connects the client and accepts its connection.</summary>
    public static async Task<OneConnectionTransport> Start(AioSchedulingMode mode)
    {
        var pool = new CountingMemoryPoolFactory();
        var options = new AioTransportOptions { LoopCount = 1, Scheduling = mode };
        var factory = new AioTransportFactory(Options.Create(options), NullLoggerFactory.Instance, pool);
        Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");
        var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Wait.Default);
        var server = (AioConnection)(await listener.AcceptAsync().AsTask().WaitAsync(Wait.Default))!;
        return new OneConnectionTransport(mode, pool, factory, loops.Schedulers[0], listener, client, server);
    }

    /// <summary>Writes as Kestrel does in the mode: on the loop in Loop mode, on a pool thread otherwise.</summary>
    public Task Write(byte[] data)
    {
        Func<Task> write = async () => await Server.Transport.Output.WriteAsync(data);
        return (Mode == AioSchedulingMode.Loop ? Server.Loop.InvokeAsync(write) : Task.Run(write)).WaitAsync(Wait.Default);
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
