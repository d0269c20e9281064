using System.Net;
using Aio.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>Kestrel's Sockets transport serves whenever Aio's cannot, however the host was put together.</summary>
public sealed class TransportFallbackTests
{
    [Fact]
    public async Task Loops_that_cannot_start_leave_the_end_point_to_Sockets_instead_of_failing_the_bind()
    {
        // io_uring demanded and refused: the context throws instead of falling back to poll.
        var options = new AioTransportOptions
        {
            LoopCount = 1,
            ContextOptions = new AioContextOptions { Monitor = FdMonitorKind.IoUring, SimulatedIoUringErrno = 1 },
        };
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = new LoggerFactory([logs]);
        await using var factory = new AioTransportFactory(Options.Create(options), loggerFactory, new TestMemoryPoolFactory());

        Assert.False(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.False(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        var line = Assert.Single(logs.Entries, e => e.EventId.Name == "IoUringUnavailable");
        Assert.Equal(LogLevel.Information, line.Level);
    }

    [Fact]
    public async Task UseAio_before_UseKestrel_still_has_Sockets_to_fall_back_on()
    {
        using var host = new HostBuilder()
            .ConfigureLogging(l => l.ClearProviders())
            .ConfigureWebHost(web => web
                .UseAio(o => o.ContextOptions = new AioContextOptions { SimulatedIoUringErrno = 1 })
                .UseKestrel(k => k.Listen(IPAddress.Loopback, 0))
                .Configure(app => app.Run(context => context.Response.WriteAsync("served"))))
            .Build();

        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        try
        {
            string address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(10) };
            Assert.Equal("served", await client.GetStringAsync("/"));
        }
        finally
        {
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
    }
}
