using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>AioConnectionFactory: a client ConnectionContext on the loops, against a real Kestrel server of either transport.</summary>
public sealed class ConnectionFactoryTests
{
    public static TheoryData<TransportKind> Servers => new() { TransportKind.Sockets, TransportKind.AioLoop };

    private static ServiceProvider CreateServices() =>
        new ServiceCollection().AddLogging().AddAioConnectionFactory(o => o.LoopCount = 1).BuildServiceProvider();

    private static void MapHello(WebApplication app) => app.MapGet("/hello", (HttpContext context) =>
    {
        // A Content-Length body (not chunked), so the raw response ends with the text.
        context.Response.ContentLength = 18;
        return context.Response.WriteAsync("hello from kestrel");
    });

    /// <summary>Sends a raw HTTP/1.1 request through the connection's pipe and reads the response up to the server's FIN.</summary>
    private static async Task<string> RequestAsync(ConnectionContext connection)
    {
        await connection.Transport.Output.WriteAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var response = new StringBuilder();
        while (true)
        {
            var result = await connection.Transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            foreach (var segment in result.Buffer)
            {
                response.Append(Encoding.ASCII.GetString(segment.Span));
            }

            connection.Transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return response.ToString();
            }
        }
    }

    [IoUringTheory]
    [MemberData(nameof(Servers))]
    public async Task A_client_connection_sends_a_raw_request_and_reads_the_response_over_TCP(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, MapHello);
        await using var services = CreateServices();
        var factory = services.GetRequiredService<IConnectionFactory>();
        Assert.IsType<AioConnectionFactory>(factory);

        var connection = await factory.ConnectAsync(server.EndPoint).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await using (connection)
        {
            // The listener's connection type, with its features.
            Assert.IsType<AioConnection>(connection);
            Assert.StartsWith("aio-", connection.ConnectionId, StringComparison.Ordinal);
            Assert.Equal(server.EndPoint, connection.RemoteEndPoint);
            Assert.Equal(server.EndPoint, connection.Features.Get<IConnectionEndPointFeature>()!.RemoteEndPoint);
            var local = Assert.IsType<IPEndPoint>(connection.LocalEndPoint);
            Assert.Equal(local.Port, ((IPEndPoint)connection.Features.Get<IConnectionSocketFeature>()!.Socket.LocalEndPoint!).Port);
            Assert.NotNull(connection.Features.Get<IConnectionLifetimeFeature>());
            Assert.NotNull(connection.Features.Get<IMemoryPoolFeature>());

            string response = await RequestAsync(connection);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
            Assert.EndsWith("\r\n\r\nhello from kestrel", response, StringComparison.Ordinal);

            // The server's connection id says which transport served it (the oracle run is Sockets).
            string served = response.Split("\r\n").Single(l => l.StartsWith("x-connection: ", StringComparison.OrdinalIgnoreCase))["x-connection: ".Length..];
            server.AssertServedBy(served);
        }
    }

    [IoUringTheory]
    [MemberData(nameof(Servers))]
    public async Task A_client_connection_reaches_a_Unix_domain_socket(TransportKind kind)
    {
        using var dir = new Aio.Tests.Support.TempDir();
        var endPoint = new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "kestrel.sock"));
        await using var server = await TestWebServer.StartAsync(kind, MapHello, endPoint);
        await using var services = CreateServices();
        var connection = await services.GetRequiredService<IConnectionFactory>().ConnectAsync(endPoint).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await using (connection)
        {
            Assert.IsType<AioConnection>(connection);
            string response = await RequestAsync(connection);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
            Assert.EndsWith("hello from kestrel", response, StringComparison.Ordinal);
        }
    }

    [Aio.Tests.Support.IoUringFact]
    public async Task A_refused_connection_throws_the_SocketException_dotnet_throws()
    {
        // A port bound but not listening refuses connections for as long as it stays bound.
        using var bound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        bound.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var target = bound.LocalEndPoint!;

        // The oracle: what a .NET Socket throws there.
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var expected = await Assert.ThrowsAsync<SocketException>(() => plain.ConnectAsync(target).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(SocketError.ConnectionRefused, expected.SocketErrorCode);

        await using var services = CreateServices();
        var actual = await Assert.ThrowsAsync<SocketException>(() => services.GetRequiredService<IConnectionFactory>().ConnectAsync(target).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(expected.SocketErrorCode, actual.SocketErrorCode);
        Assert.Equal(expected.ErrorCode, actual.ErrorCode);
    }

    [Aio.Tests.Support.IoUringFact]
    public async Task With_UseAio_the_client_connections_run_on_the_servers_loops()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseAio(o => o.LoopCount = 2);
        builder.Services.AddAioConnectionFactory();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        MapHello(app);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        try
        {
            var transport = app.Services.GetServices<IConnectionListenerFactory>().OfType<AioTransportFactory>().Single();
            Assert.Same(transport, app.Services.GetRequiredService<AioTransportFactory>());
            Assert.True(transport.TryGetLoops(out var loops, out _));
            var contexts = loops.Group.Threads.Select(t => t.Context).ToList();

            var factory = app.Services.GetRequiredService<IConnectionFactory>();
            string address = app.Urls.Single();
            var connection = (AioConnection)await factory.ConnectAsync(new IPEndPoint(IPAddress.Loopback, new Uri(address).Port)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            await using (connection)
            {
                Assert.Contains(connection.Loop, contexts);
                Assert.EndsWith("hello from kestrel", await RequestAsync(connection), StringComparison.Ordinal);
            }

            await Assert.ThrowsAsync<NotSupportedException>(() => factory.ConnectAsync(new DnsEndPoint("localhost", 80)).AsTask());
        }
        finally
        {
            await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    [IoUringFact]
    public async Task A_gracefully_ended_client_connection_closes_its_socket_without_being_disposed()
    {
        // As with Sockets: once the output completed (FIN sent) and the peer closed too (the receive ends), the fd is
        // closed, also for an owner that never calls DisposeAsync.
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        peer.Listen(1);
        await using var services = CreateServices();
        var factory = services.GetRequiredService<IConnectionFactory>();
        var connection = await factory.ConnectAsync(peer.LocalEndPoint!).AsTask().WaitAsync(Wait.Default);
        using var accepted = await peer.AcceptAsync().WaitAsync(Wait.Default);
        int fd = (int)connection.Features.Get<IConnectionSocketFeature>()!.Socket.Handle;
        string inode = new FileInfo($"/proc/self/fd/{fd}").LinkTarget!;
        Assert.StartsWith("socket:", inode, StringComparison.Ordinal);

        await connection.Transport.Output.WriteAsync("bye"u8.ToArray()).AsTask().WaitAsync(Wait.Default);
        await connection.Transport.Output.CompleteAsync();
        var received = new byte[16];
        int total = 0;
        int n;
        while ((n = await accepted.ReceiveAsync(received.AsMemory(total)).AsTask().WaitAsync(Wait.Default)) > 0)
        {
            total += n;
        }

        Assert.Equal("bye", Encoding.ASCII.GetString(received, 0, total));
        accepted.Shutdown(SocketShutdown.Both);
        Assert.True(connection.ConnectionClosed.WaitHandle.WaitOne(Wait.Default), "ConnectionClosed did not fire");

        // A reused fd number points at another inode: compare the link, not the number.
        Wait.Until(
            () => FdTarget(fd) != inode,
            () => Thread.Sleep(10),
            "the client connection's socket to be closed");
    }

    private static string? FdTarget(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            // Closed between the look-up and the read.
            return null;
        }
    }
}
