using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Aio.AspNetCore;

/// <summary>Registers <see cref="AioConnectionFactory"/>.</summary>
public static class AioConnectionFactoryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="AioConnectionFactory"/> as the <see cref="IConnectionFactory"/> (and as itself). Separate from
    /// <c>UseAio</c> because <see cref="IConnectionFactory"/> is a process-wide choice for every client library that
    /// resolves one; with <c>UseAio</c> too, both share the same loops and options. Works without Kestrel as well.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Options of the connections (and of the transport, when <c>UseAio</c> is used too).</param>
    public static IServiceCollection AddAioConnectionFactory(this IServiceCollection services, Action<AioTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }
        else
        {
            services.AddOptions<AioTransportOptions>();
        }

        services.TryAddSingleton<AioTransportFactory>();
        services.TryAddSingleton(static sp => new AioConnectionFactory(sp.GetRequiredService<AioTransportFactory>()));
        services.AddSingleton<IConnectionFactory>(static sp => sp.GetRequiredService<AioConnectionFactory>());
        return services;
    }
}
