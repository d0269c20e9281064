using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Aio.Hosting;

/// <summary>Registers Aio's loops with a .NET generic host.</summary>
public static class AioServiceCollectionExtensions
{
    /// <summary>The group's factory: also how a second <c>AddAio</c> tells its own registration from someone else's.</summary>
    private static readonly Func<IServiceProvider, object> s_group = static sp => sp.GetRequiredService<AioLoopService>().Group;

    /// <summary>
    /// Registers an <see cref="IoThreadGroup"/> singleton that starts with the host (or when first resolved) and stops
    /// after every hosted service has stopped, whatever the registration order, so a hosted service may still use the
    /// loops in its <c>StopAsync</c>. Aio's EventSource warnings and loop callback exceptions go to <c>ILogger</c>
    /// (category <c>Aio</c>) at Warning or above; a loop whose callback threw serves on.
    /// </summary>
    /// <remarks>
    /// The loops stop in this service's <c>StoppedAsync</c>. The host runs <c>StoppedAsync</c> in reverse registration
    /// order, so an <c>IHostedLifecycleService</c> registered before <c>AddAio</c> finds them stopped in its own
    /// <c>StoppedAsync</c> (its <c>StopAsync</c> still has them). A loop still inside a callback when the host's
    /// <c>ShutdownTimeout</c> expires is logged (<c>LoopsDidNotStop</c>) and left behind: the host's stop completes.
    /// An <see cref="IoThreadGroup"/> registered after <c>AddAio</c> wins resolution; the host's start then throws
    /// <see cref="InvalidOperationException"/>, before AddAio's loops start (unless something resolved them already).
    /// </remarks>
    /// <exception cref="InvalidOperationException">
    /// The collection already has an <see cref="IoThreadGroup"/> that <c>AddAio</c> did not register: the host would
    /// start a second group beside it, and the transport and services would use the first.
    /// </exception>
    public static IServiceCollection AddAio(this IServiceCollection services, Action<AioHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        foreach (var descriptor in services)
        {
            // A keyed group is another service (and a keyed descriptor throws on ImplementationFactory).
            if (descriptor.ServiceType == typeof(IoThreadGroup) && !descriptor.IsKeyedService && descriptor.ImplementationFactory != s_group)
            {
                throw new InvalidOperationException("An IoThreadGroup is already registered: AddAio registers the host's own; register one or the other.");
            }
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }
        else
        {
            services.AddOptions<AioHostOptions>();
        }

        services.TryAddSingleton<AioLoopService>();
        services.TryAddSingleton(typeof(IoThreadGroup), s_group);

        // A lifecycle service: the host runs every StoppedAsync after every hosted service's StopAsync.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AioLoopService>(static sp => sp.GetRequiredService<AioLoopService>()));
        return services;
    }
}
