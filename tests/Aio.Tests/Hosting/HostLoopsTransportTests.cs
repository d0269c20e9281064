using System.Net;
using System.Net.Sockets;
using Aio.AspNetCore;
using Aio.Hosting;
using Aio.Tests.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.Hosting;

/// <summary>UseAio on a host that also called AddAio (or registered a group itself): Kestrel serves on the host's loops.</summary>
public sealed class HostLoopsTransportTests
{
    /// <summary>What the endpoints of the test app report and wait for.</summary>
    private sealed class Probe
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// A generic host whose web host (GenericWebHostService, Kestrel) is registered before or after AddAio's service:
    /// ConfigureServices and ConfigureWebHost callbacks run in the order they were added.
    /// </summary>
    private static (IHost Host, CapturingLoggerProvider Logs) Build(bool aioFirst, Probe probe, Action<IServiceCollection>? loops = null, Action<AioTransportOptions>? aio = null)
    {
        var logs = new CapturingLoggerProvider();
        loops ??= s => s.AddAio(o =>
        {
            o.LoopCount = 2;
            o.Name = "hostloops";
        });
        var builder = new HostBuilder()
            .ConfigureLogging(l => l.ClearProviders().SetMinimumLevel(LogLevel.Debug).AddProvider(logs))
            .ConfigureServices(s => s.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20)));
        if (aioFirst)
        {
            builder.ConfigureServices(loops);
        }

        builder.ConfigureWebHost(web => web
            .UseKestrel(k => k.Listen(IPAddress.Loopback, 0))
            .UseAio(o =>
            {
                o.Scheduling = AioSchedulingMode.Loop;
                aio?.Invoke(o);
            })
            .Configure(app => app.Run(async context =>
            {
                if (context.Request.Path == "/slow")
                {
                    probe.Entered.TrySetResult();
                    await probe.Release.Task;
                    await context.Response.WriteAsync("done");
                    return;
                }

                // The connection's pumps run on its loop (the transport's connection is reachable through Kestrel's
                // fallback to the connection features). Checked on that loop: its thread and context.
                var connection = (AioConnection)context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()!;
                var where = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                connection.Loop.ScheduleOneShot(() => where.SetResult($"{AioContext.Current?.Name}|{Environment.CurrentManagedThreadId}|{connection.ConnectionId}"));
                await context.Response.WriteAsync(await where.Task);
            })));
        if (!aioFirst)
        {
            builder.ConfigureServices(loops);
        }

        return (builder.Build(), logs);
    }

    private static Uri BaseUri(IHost host)
    {
        string address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new Uri(address + "/");
    }

    private static async Task<Dictionary<int, string>> LoopThreadsAsync(IoThreadGroup group)
    {
        var threads = new Dictionary<int, string>();
        foreach (var thread in group.Threads)
        {
            var id = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            thread.Context.ScheduleOneShot(() => id.SetResult(Environment.CurrentManagedThreadId));
            threads[await id.Task.WaitAsync(TimeSpan.FromSeconds(10))] = thread.Context.Name;
        }

        return threads;
    }

    private static async Task AssertServedOnAsync(HttpClient client, Dictionary<int, string> loopThreads)
    {
        string[] where = (await client.GetStringAsync("where").WaitAsync(TimeSpan.FromSeconds(20))).Split('|');
        Assert.StartsWith("aio-", where[2], StringComparison.Ordinal);
        int thread = int.Parse(where[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(loopThreads.TryGetValue(thread, out string? name), $"served on thread {thread} ({where[0]}), not one of the group's loops {string.Join(", ", loopThreads)}");
        Assert.Equal(name, where[0]);
    }

    [IoUringTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task UseAio_serves_on_AddAio_loops_and_the_host_stops_them_after_Kestrel_with_a_request_in_flight(bool aioFirst)
    {
        var probe = new Probe();
        var (host, logs) = Build(aioFirst, probe);
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var group = host.Services.GetRequiredService<IoThreadGroup>();
        var loopThreads = await LoopThreadsAsync(group);
        Assert.Equal(2, loopThreads.Count);
        Assert.All(loopThreads.Values, name => Assert.StartsWith("hostloops-", name, StringComparison.Ordinal));

        using var client = new HttpClient { BaseAddress = BaseUri(host), Timeout = TimeSpan.FromSeconds(30) };
        await AssertServedOnAsync(client, loopThreads);

        // A request in flight when the host stops: Kestrel waits for it, and the loops must outlive that wait.
        var slow = client.GetAsync("slow");
        await probe.Entered.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStopping.Register(stopping.SetResult);
        var stop = host.StopAsync();
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(stop.IsCompleted, "the host stopped with a request in flight");
        _ = group.Next();

        probe.Release.SetResult();
        using (var response = await slow.WaitAsync(TimeSpan.FromSeconds(20)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("done", await response.Content.ReadAsStringAsync());
        }

        await stop.WaitAsync(TimeSpan.FromSeconds(20));

        // AddAio's service stopped the loops after Kestrel: disposed now.
        Assert.Throws<ObjectDisposedException>(() => group.Next());
        // Aio's EventSource is process-wide: the forwarder also sees the events of other tests' contexts.
        var loud = logs.Entries.Where(e => e.Level >= LogLevel.Warning && (e.Category != "Aio" || e.Message.Contains("hostloops", StringComparison.Ordinal))).ToList();
        Assert.True(loud.Count == 0, "logged: " + string.Join("\n", loud));
        Assert.Contains(logs.Entries, e => e.EventId.Name == "LoopsStarted" && e.Message.Contains("the host's", StringComparison.Ordinal));
        host.Dispose();
    }

    [Support.IoUringFact]
    public async Task A_borrowed_group_stopped_under_a_bound_listener_closes_the_port_instead_of_queueing_clients()
    {
        // The group's owner stopped it before Kestrel unbound: nothing accepts any more, so the port must refuse
        // connections, not take them into a backlog that nobody serves until the host stops.
        var group = IoThreadGroup.Start("borrowed-stopped", 1);
        var probe = new Probe();
        var (host, _) = Build(aioFirst: true, probe, s => s.AddSingleton(group));
        using var disposeHost = host;
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        int port = BaseUri(host).Port;
        using (var client = new HttpClient { BaseAddress = BaseUri(host), Timeout = TimeSpan.FromSeconds(30) })
        {
            await AssertServedOnAsync(client, await LoopThreadsAsync(group));
        }

        await group.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Support.Wait.Until(() => Refused(port), () => Thread.Sleep(10), "the port to refuse connections");
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static bool Refused(int port)
    {
        // Bounded: once a backlog nobody accepts from is full, the kernel drops SYNs and a connect waits for minutes.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Connected (into the backlog), or still waiting: not refused either way.
            _ = socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).Wait(TimeSpan.FromSeconds(2));
            return false;
        }
        catch (AggregateException ex) when (ex.InnerException is SocketException inner)
        {
            // Reset: the connect was in the backlog when the listener closed. Only a refusal says the port is closed.
            return inner.SocketErrorCode == SocketError.ConnectionRefused;
        }
    }

    [Support.IoUringFact]
    public async Task UseAio_never_disposes_a_group_it_borrowed()
    {
        await using var group = IoThreadGroup.Start("borrowed", 1);
        var probe = new Probe();
        var (host, _) = Build(aioFirst: true, probe, s => s.AddSingleton(group));
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var loopThreads = await LoopThreadsAsync(group);
        using (var client = new HttpClient { BaseAddress = BaseUri(host), Timeout = TimeSpan.FromSeconds(30) })
        {
            await AssertServedOnAsync(client, loopThreads);
        }

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await ((IAsyncDisposable)host).DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        // The transport (disposed with the host's service provider) left the group running.
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var context = group.Next().Context;
        context.ScheduleOneShot(() => ran.SetResult(AioContext.Current == context));
        Assert.True(await ran.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Support.IoUringTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Loop_settings_of_the_transport_on_a_borrowed_group_are_reported_unused(bool setPollMaxNs)
    {
        var probe = new Probe();
        var (host, logs) = Build(aioFirst: true, probe, aio: o => o.PollMaxNs = setPollMaxNs ? 0 : null);
        using var disposeHost = host;
        await host.StartAsync().Within("the host's start");
        try
        {
            // The host's loops keep their own ceiling: the transport's 0 does not reach them.
            var group = host.Services.GetRequiredService<IoThreadGroup>();
            Assert.All(group.Threads, t => Assert.Equal(IoThread.DefaultPollMaxNs, t.Context.PollCeilingNs));
            var unused = logs.Entries.Where(e => e.EventId.Name == "LoopOptionsUnused").ToList();
            if (setPollMaxNs)
            {
                var entry = Assert.Single(unused);
                Assert.Equal(LogLevel.Information, entry.Level);
                Assert.Contains("PollMaxNs", entry.Message, StringComparison.Ordinal);
            }
            else
            {
                Assert.Empty(unused);
            }
        }
        finally
        {
            await host.StopAsync().Within("the host's stop");
        }
    }
}
