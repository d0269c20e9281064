using Aio.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>What UseAio puts in the container, as a user or another library resolves it.</summary>
public sealed class UseAioRegistrationTests
{
    [Fact]
    public async Task UseAio_registers_the_factory_and_the_selector_as_one_instance()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseAio();
        builder.WebHost.UseAio(o => o.LoopCount = 1);
        await using var app = builder.Build();

        var transport = app.Services.GetRequiredService<AioTransportFactory>();
        var selector = Assert.Single(app.Services.GetServices<IConnectionListenerFactorySelector>().OfType<AioTransportFactory>());
        Assert.Same(transport, selector);
        Assert.Contains(transport, app.Services.GetServices<IConnectionListenerFactory>());
    }

    [Fact]
    public void Negative_buffer_limits_and_backlog_are_refused_when_set_and_nothing_changes()
    {
        // Refused here, not by each connection once traffic comes (the pipes would throw for every one).
        var options = new AioTransportOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxReadBufferSize = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxWriteBufferSize = -5);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Backlog = -1);
        Assert.Equal((1024 * 1024L, 64 * 1024L, 512), (options.MaxReadBufferSize, options.MaxWriteBufferSize, options.Backlog));
    }

    [Theory]
    [InlineData(TransportKind.AioLoop, false)]
    [InlineData(TransportKind.AioLoop, true)]
    [InlineData(TransportKind.Sockets, false)]
    public async Task A_backlog_of_0_and_no_buffer_limits_serve_as_with_Sockets(TransportKind kind, bool listenerPerLoop)
    {
        await using var server = await TestWebServer.StartAsync(
            kind,
            HttpBasicsTests.MapBasics,
            kestrel: null,
            aio: o =>
            {
                o.Backlog = 0;
                o.MaxReadBufferSize = 0;
                o.MaxWriteBufferSize = null;
                o.ListenerPerLoop = listenerPerLoop;
            });
        using var client = new HttpClient { BaseAddress = server.BaseUri };
        Assert.Equal("hello", await client.GetStringAsync("/hello").WaitAsync(Aio.Tests.Support.Wait.Default));
    }
}
