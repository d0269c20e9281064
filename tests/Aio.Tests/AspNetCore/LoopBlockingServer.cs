using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// A web app on the Aio transport's own loops in Loop mode whose <c>GET /block</c> blocks the loop it runs on until
/// released (bounded at 20 s): a stalled loop on demand, with a 50 ms stall threshold.
/// </summary>
internal sealed class LoopBlockingServer : IAsyncDisposable
{
    private readonly ManualResetEventSlim _release = new();
    private readonly TaskCompletionSource<string?> _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HttpClient _client = new();
    private Task<string>? _response;

    private LoopBlockingServer()
    {
    }

    public TestWebServer Server { get; private set; } = null!;

    public static async Task<LoopBlockingServer> StartAsync()
    {
        var blocking = new LoopBlockingServer();
        blocking.Server = await TestWebServer.StartAsync(
            TransportKind.AioLoop,
            app => app.MapGet("/block", () =>
            {
                // Loop mode: this runs on the connection's loop, which waits with it.
                blocking._entered.TrySetResult(AioContext.Current?.Name);
                blocking._release.Wait(TimeSpan.FromSeconds(20));
                return "released";
            }),
            aio: o => o.ContextOptions = new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(50) });
        var factory = blocking.Server.App.Services.GetServices<IConnectionListenerFactory>().OfType<AioTransportFactory>().Single();
        Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");
        Assert.True(loops.OwnsGroup, "without AddAio the transport serves on loops of its own");
        return blocking;
    }

    /// <summary>Sends <c>GET /block</c>; returns the name of the loop its handler blocks.</summary>
    public async Task<string> BlockALoopAsync()
    {
        _client.BaseAddress = Server.BaseUri;
        _response = _client.GetStringAsync("/block");
        string? loop = await _entered.Task.Within("the request to reach its handler");
        Assert.True(loop is not null, "the handler did not run on a loop (Loop mode)");
        return loop!;
    }

    /// <summary>Lets the handler return and checks the blocked request's response.</summary>
    public async Task ReleaseAsync()
    {
        _release.Set();
        Assert.Equal("released", await _response!.Within("the blocked request's response"));
    }

    public async ValueTask DisposeAsync()
    {
        _release.Set();
        _client.Dispose();
        await Server.DisposeAsync();
        _release.Dispose();
    }
}
