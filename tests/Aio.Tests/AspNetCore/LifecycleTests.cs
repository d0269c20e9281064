using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>Bind and stop as Kestrel drives them: port 0, EADDRINUSE, graceful shutdown, the io_uring fallback.</summary>
public sealed class LifecycleTests
{
    public static TheoryData<TransportKind, TransportKind> Holders => new()
    {
        { TransportKind.Sockets, TransportKind.AioThreadPool },
        { TransportKind.AioThreadPool, TransportKind.AioLoop },
        { TransportKind.AioLoop, TransportKind.Sockets },
        { TransportKind.Sockets, TransportKind.Sockets },
    };

    [Theory]
    [MemberData(nameof(Holders))]
    public async Task Binding_a_port_another_server_holds_fails_with_address_in_use(TransportKind holder, TransportKind second)
    {
        await using var first = await TestWebServer.StartAsync(holder, HttpBasicsTests.MapBasics);
        Assert.NotEqual(0, first.Port);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestWebServer.StartAsync(second, HttpBasicsTests.MapBasics, new IPEndPoint(IPAddress.Loopback, first.Port)));

        // Kestrel wraps the transport's AddressInUseException in an IOException.
        var inner = error is IOException io ? io.InnerException : error;
        Assert.IsType<Microsoft.AspNetCore.Connections.AddressInUseException>(inner);

        // The holder still serves.
        using var client = first.CreateClient();
        Assert.Equal("hello", await client.GetStringAsync("hello"));
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task Stopping_waits_for_requests_in_flight_and_they_complete(TransportKind kind)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TestWebServer.StartAsync(kind, app => app.MapGet("/slow", async (HttpContext context) =>
        {
            entered.TrySetResult();
            var lifetime = context.RequestServices.GetRequiredService<IHostApplicationLifetime>();

            // Finishes only once the host is stopping: the response is in flight during the shutdown.
            await Task.Delay(Timeout.Infinite, lifetime.ApplicationStopping).ContinueWith(_ => { }, TaskScheduler.Default);
            await HttpBasicsTests.Text(context, "done");
        }));
        using var client = server.CreateClient();
        var request = client.GetAsync("slow");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var stop = server.App.StopAsync();
        using var response = await request.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("done", await response.Content.ReadAsStringAsync());
        await stop.WaitAsync(TimeSpan.FromSeconds(15));
        await server.App.DisposeAsync();
        server.AssertNothingLoggedAbove(LogLevel.Information);
    }

    [Fact]
    public async Task Without_io_uring_Sockets_serves_and_the_fallback_is_logged_once_at_Information()
    {
        await using var server = await TestWebServer.StartAsync(TransportKind.AioRefused, HttpBasicsTests.MapBasics);
        using var client = server.CreateClient();
        using var response = await client.GetAsync("hello");
        server.AssertServedBy(response.Headers.GetValues("x-connection").Single());
        var fallback = server.Logs.Entries.Where(e => e.Category == "Aio.AspNetCore" && e.EventId.Name == "IoUringUnavailable").ToList();
        var line = Assert.Single(fallback);
        Assert.Equal(LogLevel.Information, line.Level);
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task Port_0_reports_the_real_port_and_curl_reaches_it(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, HttpBasicsTests.MapBasics);
        Assert.InRange(server.Port, 1, 65535);
        Assert.Equal("hello", await Curl.RunAsync("-s", server.BaseUri + "hello"));
        Assert.Equal("echo:abc", await Curl.RunAsync("-s", "-d", "abc", server.BaseUri + "echo"));
    }
}
