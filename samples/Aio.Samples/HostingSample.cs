using Aio;
using Aio.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AioSamples;

/// <summary><c>AddAio</c> in a generic host: the loops start before the hosted services and stop after them.</summary>
internal static class HostingSample
{
    public static async Task RunAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAio(o => o.LoopCount = 2);          // an IoThreadGroup singleton tied to the host
        builder.Services.AddHostedService<LoopUser>();
        using var host = builder.Build();

        await host.StartAsync();
        var loops = host.Services.GetRequiredService<IoThreadGroup>();
        Console.WriteLine($"hosting: {loops.Threads.Count} loops running");
        await host.StopAsync();
    }

    /// <summary>A hosted service that takes the loops from dependency injection.</summary>
    private sealed class LoopUser(IoThreadGroup loops) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var ctx = loops.Next().Context;
            string name = await ctx.InvokeAsync(() => Task.FromResult(AioContext.Current!.Name));
            Console.WriteLine($"hosting: hosted service ran work on loop '{name}'");
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            // Still running: the loops stop only after every hosted service has stopped.
            bool onLoop = await loops.Next().Context.InvokeAsync(() => Task.FromResult(AioContext.Current is not null));
            Console.WriteLine($"hosting: loops still up in StopAsync: {onLoop}");
        }
    }
}
