using Aio.AspNetCore;
using Aio.Hosting;
using Aio.Tests.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.Hosting;

/// <summary>
/// Which host logs an Aio event when several run in one process. Alone in the process (the routing table and the
/// event source are the process's): a host of another test would take the events these tests count.
/// </summary>
[Collection(ProcessStateCollection.Name)]
public sealed class HostingEventRoutingTests
{
    private static IHost Build(CapturingLoggerProvider logs, Action<AioHostOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddAio(configure);
        return builder.Build();
    }

    [Fact]
    public async Task Hosts_sharing_loop_names_log_an_event_written_off_the_loops_once()
    {
        string name = "shared-" + Guid.NewGuid().ToString("N")[..8];
        var logsA = new CapturingLoggerProvider();
        var logsB = new CapturingLoggerProvider();
        using var a = Build(logsA, o =>
        {
            o.LoopCount = 1;
            o.Name = name;
            o.Context = new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(100) };
        });
        using var b = Build(logsB, o =>
        {
            o.LoopCount = 1;
            o.Name = name;
        });
        await a.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await b.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));

        // The stall watchdog writes on its own thread, naming "{name}-0": both hosts' loops carry that name.
        var context = a.Services.GetRequiredService<IoThreadGroup>().Threads[0].Context;
        bool Stalled(LogEntry e) => e.Message.Contains($"Context {name}-0: the loop has been running callbacks", StringComparison.Ordinal);
        using (var release = new ManualResetEventSlim())
        {
            context.ScheduleOneShot(() => release.Wait(TimeSpan.FromSeconds(20)));
            Wait.Until(() => logsA.Entries.Any(Stalled) || logsB.Entries.Any(Stalled), () => Thread.Sleep(10), "the stall warning in a log");
            release.Set();
        }

        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(after.SetResult);
        await after.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await b.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await a.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, logsA.Entries.Count(Stalled) + logsB.Entries.Count(Stalled));
        Assert.Single(logsA.Entries, Stalled);
    }

    [Fact]
    public async Task A_container_without_logging_never_takes_the_events_of_contexts_no_host_claims()
    {
        // AddAio in a bare ServiceCollection (no logger) starts its loops first...
        await using var bare = new ServiceCollection().AddAio(o =>
        {
            o.LoopCount = 1;
            o.Name = "bare-" + Guid.NewGuid().ToString("N")[..8];
        }).BuildServiceProvider();
        _ = bare.GetRequiredService<IoThreadGroup>();

        // ... then a host with one. A failure on an IoThread of the application's own must reach the host's log.
        var logs = new CapturingLoggerProvider();
        using var host = Build(logs, o =>
        {
            o.LoopCount = 1;
            o.Name = "logged-" + Guid.NewGuid().ToString("N")[..8];
        });
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        string marker = "unclaimed boom " + Guid.NewGuid().ToString("N")[..8];
        using (var own = IoThread.Start("app-" + Guid.NewGuid().ToString("N")[..8]))
        {
            own.Context.ScheduleOneShot(() => throw new InvalidOperationException(marker));
            Wait.Until(() => logs.Entries.Any(e => e.Message.Contains(marker, StringComparison.Ordinal)), () => Thread.Sleep(10), "the application's IoThread failure in the host's log");
        }

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_failure_on_an_application_IoThread_with_its_own_handler_is_left_to_that_handler()
    {
        var logs = new CapturingLoggerProvider();
        using var host = Build(logs, o =>
        {
            o.LoopCount = 1;
            o.Name = "logged-" + Guid.NewGuid().ToString("N")[..8];
        });
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        string marker = "handled boom " + Guid.NewGuid().ToString("N")[..8];
        var handled = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var own = IoThread.Start("app-" + Guid.NewGuid().ToString("N")[..8]))
        {
            own.CallbackException += (_, ex) => handled.TrySetResult(ex);
            own.Context.ScheduleOneShot(() => throw new InvalidOperationException(marker));
            Assert.Equal(marker, (await handled.Task.WaitAsync(TimeSpan.FromSeconds(10))).Message);
        }

        // The event source's listeners ran inside its write, on the loop thread, before the handler heard of it: the
        // host's decision is in its log already.
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(marker, StringComparison.Ordinal));
    }

    [IoUringFact]
    public async Task A_stall_of_a_transports_own_loop_is_logged_by_the_transport_alone_beside_an_AddAio_host()
    {
        var hostLogs = new CapturingLoggerProvider();
        using var host = Build(hostLogs, o =>
        {
            o.LoopCount = 1;
            o.Name = "logged-" + Guid.NewGuid().ToString("N")[..8];
        });
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));

        // A web app in the same process with UseAio and no AddAio: the transport runs loops of its own ("aio-kestrel-N",
        // claimed by no host) and logs their warnings itself.
        await using var blocking = await LoopBlockingServer.StartAsync();
        string loop = await blocking.BlockALoopAsync();
        bool Stalled(LogEntry e) => e.Message.Contains($"Context {loop}: the loop has been running callbacks for", StringComparison.Ordinal);

        // The watchdog writes the event (the host's forwarder decides inside that write), then hands the warning to the
        // loop's subscriber, the transport: once the transport logged it, the host has decided.
        Wait.Until(() => blocking.Server.Logs.Entries.Any(Stalled), () => Thread.Sleep(5), "the stalled loop's warning in the transport's log");
        await blocking.ReleaseAsync();
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(hostLogs.Entries, Stalled);
    }
}
