using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// UseAio without AddAio: the warnings of the transport's own loops (a request that blocks its loop in Loop mode) go
/// to the transport's ILogger at Warning, with no EventListener and no Aio.Hosting.
/// </summary>
public class TransportWarningTests
{
    [IoUringFact]
    public async Task A_request_that_blocks_its_loop_is_logged_as_a_stalled_loop()
    {
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestWebServer.StartAsync(
            TransportKind.AioLoop,
            app => app.MapGet("/block", () =>
            {
                // Loop mode: this runs on the connection's loop, which waits with it. Bounded: the test releases it
                // once it saw the warning, and a missing warning fails below, not by a hang.
                entered.TrySetResult(AioContext.Current?.Name);
                release.Wait(TimeSpan.FromSeconds(20));
                return "released";
            }),
            aio: o => o.ContextOptions = new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(50) });
        var factory = server.App.Services.GetServices<IConnectionListenerFactory>().OfType<AioTransportFactory>().Single();
        Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");
        Assert.True(loops.OwnsGroup, "without AddAio the transport serves on loops of its own");

        using var client = new HttpClient { BaseAddress = server.BaseUri };
        var response = client.GetStringAsync("/block");
        string? loop = await entered.Task.Within("the request to reach its handler");
        Assert.True(loop is not null, "the handler did not run on a loop (Loop mode)");

        bool Stalled(LogEntry e) => e.Level == LogLevel.Warning && e.EventId.Name == "LoopWarning"
            && e.Message.Contains($"Context {loop}: the loop has been running callbacks for", StringComparison.Ordinal);
        Wait.Until(() => server.Logs.Entries.Any(Stalled), () => Thread.Sleep(5), "the stalled loop's warning in the transport's log");
        release.Set();
        Assert.Equal("released", await response.Within("the blocked request's response"));

        // The first one (the loop may stall again on its way back, past so short a threshold: once per stall is
        // ContextWarningTests' business).
        var entry = server.Logs.Entries.First(Stalled);
        Assert.Equal("Aio.AspNetCore", entry.Category);
        Assert.StartsWith("Aio transport (LoopStalled): ", entry.Message, StringComparison.Ordinal);
    }
}
