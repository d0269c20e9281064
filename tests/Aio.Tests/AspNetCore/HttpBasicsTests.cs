using System.Net;
using System.Net.Sockets;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>Plain HTTP/1.1 through real Kestrel and HttpClient, on every transport (Sockets is the oracle).</summary>
public sealed class HttpBasicsTests
{
    internal static void MapBasics(WebApplication app)
    {
        app.MapGet("/hello", (HttpContext context) => Text(context, "hello"));
        app.MapPost("/echo", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            return "echo:" + await reader.ReadToEndAsync();
        });
        app.MapGet("/socket", (HttpContext context) =>
        {
            var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
            return socket is null ? "none" : $"{socket.RemoteEndPoint}|{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}|{socket.NoDelay}";
        });
    }

    /// <summary>A body with a Content-Length (not chunked), which the raw-socket tests parse.</summary>
    internal static Task Text(HttpContext context, string text)
    {
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = System.Text.Encoding.UTF8.GetByteCount(text);
        return context.Response.WriteAsync(text);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Get_and_post_answer_through_HttpClient(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, MapBasics);
        using var client = server.CreateClient();

        using var get = await client.GetAsync("hello");
        Assert.Equal("hello", await get.Content.ReadAsStringAsync());
        server.AssertServedBy(get.Headers.GetValues("x-connection").Single());

        using var post = await client.PostAsync("echo", new StringContent("payload"));
        Assert.Equal("echo:payload", await post.Content.ReadAsStringAsync());
        server.AssertNothingLoggedAbove(LogLevel.Information);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Keep_alive_serves_requests_on_one_connection_and_Connection_close_ends_it(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, MapBasics);
        using var socket = await server.ConnectRawAsync();
        await RawHttp.SendAsync(socket, RawHttp.Get("/hello"));
        var first = await RawHttp.ReadResponsesAsync(socket, 1);
        await RawHttp.SendAsync(socket, RawHttp.Get("/hello", close: true));
        var second = await RawHttp.ReadResponsesAsync(socket, 1);
        Assert.Equal((200, "hello"), first[0]);
        Assert.Equal((200, "hello"), second[0]);

        // Connection: close: the server ends the connection with a FIN (0 bytes), not a reset.
        Assert.Equal(0, await RawHttp.ReadToEndAsync(socket));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Pipelined_requests_are_answered_in_order(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, app => app.MapGet("/n/{n}", (HttpContext c, int n) => Text(c, "r" + n)));
        using var socket = await server.ConnectRawAsync();
        const int count = 16;
        await RawHttp.SendAsync(socket, string.Concat(Enumerable.Range(0, count).Select(i => RawHttp.Get("/n/" + i))));
        var responses = await RawHttp.ReadResponsesAsync(socket, count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => (200, "r" + i)), responses);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task The_socket_feature_matches_the_remote_end_point_and_has_NoDelay(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, MapBasics);
        using var client = server.CreateClient();
        string text = await client.GetStringAsync("socket");
        var parts = text.Split('|');
        Assert.Equal(3, parts.Length);
        Assert.Equal(parts[0], parts[1]);
        Assert.Equal("True", parts[2]);
    }

    [IoUringTheory]
    [InlineData(TransportKind.AioThreadPool, false)]
    [InlineData(TransportKind.AioLoop, false)]
    [InlineData(TransportKind.AioLoop, true)]
    public async Task NoDelay_false_reaches_the_accepted_sockets(TransportKind kind, bool listenerPerLoop)
    {
        // Accepted sockets inherit TCP_NODELAY from their listener: the option must reach every listener kind.
        await using var server = await TestWebServer.StartAsync(kind, MapBasics, aio: o =>
        {
            o.NoDelay = false;
            o.ListenerPerLoop = listenerPerLoop;
        });
        using var client = server.CreateClient();
        using var response = await client.GetAsync("socket");
        server.AssertServedBy(response.Headers.GetValues("x-connection").Single());
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal("False", text.Split('|')[2]);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task IPv6_loopback_serves_and_reports_the_IPv6_remote_address(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, app => app.MapGet("/ip", (HttpContext c) => c.Connection.RemoteIpAddress!.ToString()), new IPEndPoint(IPAddress.IPv6Loopback, 0));
        Assert.NotEqual(0, server.Port);
        using var client = server.CreateClient();
        using var response = await client.GetAsync("ip");
        Assert.Equal("::1", await response.Content.ReadAsStringAsync());
        server.AssertServedBy(response.Headers.GetValues("x-connection").Single());
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task A_Unix_domain_socket_serves_HttpClient_and_curl(TransportKind kind)
    {
        using var dir = new Aio.Tests.Support.TempDir();
        string path = Path.Combine(dir.Path, "kestrel.sock");
        await using var server = await TestWebServer.StartAsync(kind, MapBasics, new UnixDomainSocketEndPoint(path));
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(20) };
        string curlFirst;
        try
        {
            curlFirst = await Curl.RunAsync("-s", "--unix-socket", path, "http://localhost/hello");
        }
        catch (Exception ex)
        {
            throw new Exception(string.Join("\n", server.Logs.Entries.Select(e => e + " " + e.Exception)), ex);
        }

        Assert.True(curlFirst == "hello", string.Join("\n", server.Logs.Entries));
        using var response = await client.GetAsync("hello");
        Assert.Equal("hello", await response.Content.ReadAsStringAsync());
        server.AssertServedBy(response.Headers.GetValues("x-connection").Single());

        var curl = await Curl.RunAsync("-s", "--unix-socket", path, "http://localhost/hello");
        Assert.Equal("hello", curl);
    }
}
