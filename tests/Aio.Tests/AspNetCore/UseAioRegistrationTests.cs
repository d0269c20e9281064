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
}
