using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// <see cref="AioTransportOptions.ListenerPerLoop"/>: one SO_REUSEPORT listener per loop, connections served on the
/// loop that accepted them, a port held by anyone (another such server included) refused, unbind ends accepting.
/// </summary>
public sealed class ReusePortListenerTests
{
    private static AioTransportFactory CreateFactory() =>
        new(Options.Create(new AioTransportOptions { LoopCount = 2, Scheduling = AioSchedulingMode.Loop, ListenerPerLoop = true }), NullLoggerFactory.Instance, new TestMemoryPoolFactory());

    [IoUringFact]
    public async Task Connections_are_spread_over_the_loops_and_each_is_served_on_the_loop_that_accepted_it()
    {
        await using var factory = CreateFactory();
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.NotEqual(0, ((IPEndPoint)listener.EndPoint).Port);
        var clients = new List<Socket>();
        var loops = new HashSet<AioContext>();
        try
        {
            for (int i = 0; i < 64; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(listener.EndPoint).WaitAsync(Wait.Default);
                var server = (AioConnection)(await listener.AcceptAsync().AsTask().WaitAsync(Wait.Default))!;
                loops.Add(server.Loop);
                Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);

                await client.SendAsync("ping"u8.ToArray(), SocketFlags.None).Within("the client's send");
                var read = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(Wait.Default);
                Assert.Equal("ping", Encoding.ASCII.GetString(System.Buffers.BuffersExtensions.ToArray(read.Buffer)));
                server.Transport.Input.AdvanceTo(read.Buffer.End);
                await server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        // 64 connections from 64 source ports over two listeners: all on one would be a 1 in 2^63 hash.
        Assert.Equal(2, loops.Count);
    }

    [IoUringFact]
    public async Task A_port_held_by_another_server_with_listeners_per_loop_or_by_a_plain_socket_is_AddressInUse()
    {
        await using var first = CreateFactory();
        await using var held = await first.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var port = (IPEndPoint)held.EndPoint;

        // SO_REUSEPORT on both sides would let the kernel share the port: the probe refuses it.
        await using var second = CreateFactory();
        await Assert.ThrowsAsync<AddressInUseException>(async () => await second.BindAsync(port));

        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        plain.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        plain.Listen();
        await Assert.ThrowsAsync<AddressInUseException>(async () => await second.BindAsync(plain.LocalEndPoint!));
    }

    [Fact]
    public void The_probe_sets_SO_REUSEADDR_and_not_SO_REUSEPORT()
    {
        // asm-generic/socket.h: SOL_SOCKET 1, SO_REUSEADDR 2, SO_REUSEPORT 15.
        Assert.Equal(1, AioReusePortListener.SolSocket);
        Assert.Equal(2, AioReusePortListener.SoReuseAddr);
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.SetRawSocketOption(AioReusePortListener.SolSocket, AioReusePortListener.SoReuseAddr, BitConverter.GetBytes(1));
        var value = new byte[4];
        probe.GetRawSocketOption(1, 2, value);
        Assert.Equal(1, BitConverter.ToInt32(value));
        probe.GetRawSocketOption(1, 15, value);
        Assert.Equal(0, BitConverter.ToInt32(value));
    }

    [IoUringFact]
    public async Task AcceptAsync_returns_null_after_unbind_and_a_pending_accept_ends_with_null()
    {
        await using var factory = CreateFactory();
        var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var pending = listener.AcceptAsync().AsTask();
        await listener.UnbindAsync().AsTask().WaitAsync(Wait.Default);
        Assert.Null(await pending.WaitAsync(Wait.Default));
        Assert.Null(await listener.AcceptAsync().AsTask().WaitAsync(Wait.Default));
        await listener.DisposeAsync();

        // The port is free again.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(listener.EndPoint);
    }

    [IoUringFact]
    public async Task Kestrel_serves_requests_through_listeners_per_loop()
    {
        await using var server = await TestWebServer.StartAsync(
            TransportKind.AioLoop,
            app => app.MapGet("/hello", () => "hello"),
            aio: o =>
            {
                o.ListenerPerLoop = true;
                o.LoopCount = 2;
            });
        using var client = server.CreateClient();
        for (int i = 0; i < 20; i++)
        {
            // A new connection each time, so both listeners see some.
            using var request = new HttpRequestMessage(HttpMethod.Get, "hello");
            request.Headers.ConnectionClose = true;
            using var response = await client.SendAsync(request).WaitAsync(Wait.Default);
            Assert.Equal("hello", await response.Content.ReadAsStringAsync());
        }
    }
}
