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
        await using var blocking = await LoopBlockingServer.StartAsync();
        var server = blocking.Server;
        string loop = await blocking.BlockALoopAsync();

        bool Stalled(LogEntry e) => e.Level == LogLevel.Warning && e.EventId.Name == "LoopWarning"
            && e.Message.Contains($"Context {loop}: the loop has been running callbacks for", StringComparison.Ordinal);
        Wait.Until(() => server.Logs.Entries.Any(Stalled), () => Thread.Sleep(5), "the stalled loop's warning in the transport's log");
        await blocking.ReleaseAsync();

        // The first one (the loop may stall again on its way back, past so short a threshold: once per stall is
        // ContextWarningTests' business).
        var entry = server.Logs.Entries.First(Stalled);
        Assert.Equal("Aio.AspNetCore", entry.Category);
        Assert.StartsWith("Aio transport (LoopStalled): ", entry.Message, StringComparison.Ordinal);
    }
}
