using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Aio.AspNetCore;

/// <summary>Registers the Aio transport with Kestrel.</summary>
public static class AioWebHostBuilderExtensions
{
    /// <summary>Serves Kestrel's TCP and Unix-domain end points on Aio loops, with default <see cref="AioTransportOptions"/>.</summary>
    public static IWebHostBuilder UseAio(this IWebHostBuilder builder) => builder.UseAio(static _ => { });

    /// <summary>
    /// Serves Kestrel's TCP and Unix-domain end points on Aio loops: registers an <see cref="IConnectionListenerFactory"/>
    /// and <see cref="IConnectionListenerFactorySelector"/>. Where io_uring is unavailable it binds nothing and
    /// Kestrel's own Sockets transport serves instead (logged once at Information).
    /// </summary>
    /// <remarks>
    /// When the service provider has an <see cref="IoThreadGroup"/> (Aio.Hosting's <c>AddAio</c>, or one registered by
    /// the application) the transport serves on its loops and never disposes it; otherwise it starts a group of
    /// <see cref="AioTransportOptions.LoopCount"/> loops of its own and stops it when the host disposes the transport.
    /// </remarks>
    public static IWebHostBuilder UseAio(this IWebHostBuilder builder, Action<AioTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        // Sockets first, so that it is there to fall back on (no io_uring, an end point Aio does not serve) also when
        // UseAio comes before UseKestrel, whose own UseSockets would then add nothing after Aio's factory (TryAdd).
        builder.UseSockets();
        return builder.ConfigureServices(services =>
        {
            services.Configure(configure);

            // Added, not TryAdded: Kestrel asks the most recently registered factory first, and Sockets' is already there.
            services.TryAddSingleton<AioTransportFactory>();
            services.AddSingleton<IConnectionListenerFactory>(static sp => sp.GetRequiredService<AioTransportFactory>());

            // Kestrel finds the selector by casting the factory; the registration is for whoever asks the container.
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IConnectionListenerFactorySelector, AioTransportFactory>(
                static sp => sp.GetRequiredService<AioTransportFactory>()));
        });
    }
}
