using Aio.Hosting;
using Aio.Tests.AspNetCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.Hosting;

/// <summary>AddAio: the loops start with the host, stop after every hosted service, and report to ILogger.</summary>
public sealed class HostingTests
{
    /// <summary>Uses the loops in its StopAsync: that must still work whatever the registration order.</summary>
    private sealed class LoopUser(IoThreadGroup group) : IHostedService
    {
        public bool RanOnLoopAtStop { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var context = group.Threads[0].Context;
            context.ScheduleOneShot(() => done.TrySetResult(AioContext.Current == context));
            RanOnLoopAtStop = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static (IHost Host, CapturingLoggerProvider Logs) Build(bool userFirst, Action<AioHostOptions>? configure = null)
    {
        var logs = new CapturingLoggerProvider();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(logs);
        if (userFirst)
        {
            builder.Services.AddSingleton<LoopUser>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<LoopUser>());
            builder.Services.AddAio(configure ?? (o => o.LoopCount = 2));
        }
        else
        {
            builder.Services.AddAio(configure ?? (o => o.LoopCount = 2));
            builder.Services.AddSingleton<LoopUser>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<LoopUser>());
        }

        return (builder.Build(), logs);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_loops_run_until_every_hosted_service_stopped_whatever_the_registration_order(bool userFirst)
    {
        var (host, _) = Build(userFirst);
        using var disposeHost = host;   // also when an assertion fails: no IoThreads left running
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var group = host.Services.GetRequiredService<IoThreadGroup>();
        Assert.Equal(2, group.Threads.Count);
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(host.Services.GetRequiredService<LoopUser>().RanOnLoopAtStop);

        // Stopped after them: the group is disposed now.
        Assert.Throws<ObjectDisposedException>(() => group.Next());
    }

    [Fact]
    public async Task A_callback_exception_is_logged_and_the_loop_serves_on()
    {
        var (host, logs) = Build(userFirst: false);
        using var disposeHost = host;
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var context = host.Services.GetRequiredService<IoThreadGroup>().Threads[0].Context;
        context.ScheduleOneShot(() => throw new InvalidOperationException("boom"));
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(after.SetResult);
        await after.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Aio.Tests.Support.Wait.Until(
            () => logs.Entries.Any(e => e.Category == "Aio" && e.Level >= LogLevel.Warning && e.Exception is InvalidOperationException { Message: "boom" }),
            () => Thread.Sleep(10),
            "the callback exception in the log");

        // Once: the loop's own report carries the exception; the EventSource's CallbackFailed is not forwarded again.
        Assert.Single(logs.Entries, e => e.Category == "Aio" && (e.Message.Contains("boom", StringComparison.Ordinal) || e.Exception?.Message == "boom"));
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Callback_failures_of_another_IoThread_named_like_the_hosts_loops_are_still_logged()
    {
        // A name of its own: hosts sharing loop names (the default, in the tests running beside this one) leave such an
        // event to the first of them.
        var (host, logs) = Build(userFirst: false, o =>
        {
            o.LoopCount = 2;
            o.Name = "hosting-foreign-" + Guid.NewGuid().ToString("N")[..8];
        });
        using var disposeHost = host;
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        string name = host.Services.GetRequiredService<IoThreadGroup>().Threads[0].Context.Name;

        // Not the host's loop, though named like it: nobody else logs its failures, so the forwarder must.
        using var foreign = IoThread.Start(name);
        foreign.Context.ScheduleOneShot(() => throw new InvalidOperationException("foreign boom"));
        Aio.Tests.Support.Wait.Until(
            () => logs.Entries.Any(e => e.Category == "Aio" && e.Message.Contains("foreign boom", StringComparison.Ordinal)),
            () => Thread.Sleep(10),
            "the foreign loop's callback failure in the host's log");
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Two_hosts_in_one_process_each_log_only_their_own_loops_events()
    {
        // Integration tests start many hosts in one process; every host hears Aio's EventSource.
        string suffix = Guid.NewGuid().ToString("N")[..8];
        var (a, logsA) = Build(userFirst: false, o =>
        {
            o.LoopCount = 1;
            o.Name = "host-a-" + suffix;
            o.Context = new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(100) };
        });
        var (b, logsB) = Build(userFirst: false, o =>
        {
            o.LoopCount = 1;
            o.Name = "host-b-" + suffix;
        });
        using var disposeA = a;
        using var disposeB = b;
        await a.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await b.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var context = a.Services.GetRequiredService<IoThreadGroup>().Threads[0].Context;

        // Written on A's loop thread (CallbackFailed), and on the stall watchdog's (LoopStalled, naming A's context).
        context.ScheduleOneShot(() => throw new InvalidOperationException("boom " + suffix));
        using (var release = new ManualResetEventSlim())
        {
            context.ScheduleOneShot(() => release.Wait(TimeSpan.FromSeconds(20)));
            Aio.Tests.Support.Wait.Until(
                () => logsA.Entries.Any(e => e.Category == "Aio" && e.Message.Contains("host-a-" + suffix + "-0: the loop has been running callbacks", StringComparison.Ordinal)),
                () => Thread.Sleep(10),
                "the stall warning in A's log");
            release.Set();
        }

        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(after.SetResult);
        await after.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(logsA.Entries, e => e.Category == "Aio" && e.Exception?.Message == "boom " + suffix);

        // B stops after A's events were written, so anything it forwarded is in its log by now.
        await b.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(logsB.Entries, e => e.Message.Contains(suffix, StringComparison.Ordinal) && !e.Message.Contains("host-b-", StringComparison.Ordinal));
        Assert.DoesNotContain(logsB.Entries, e => e.Exception?.Message == "boom " + suffix);
        await a.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_loop_stuck_in_a_callback_does_not_hold_the_hosts_stop_past_its_shutdown_timeout()
    {
        var logs = new CapturingLoggerProvider();
        var builder = OneLoopHost(logs, TimeSpan.FromMilliseconds(500));
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        using var stuck = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetRequiredService<IoThreadGroup>().Threads[0].Context.ScheduleOneShot(() =>
        {
            entered.TrySetResult();
            stuck.Wait(TimeSpan.FromSeconds(60));
        });
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            // Bounded by the host's own timeout, not by the callback (which would hold the loop's join for a minute).
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains(logs.Entries, e => e.Category == "Aio" && e.EventId.Name == "LoopsDidNotStop" && e.Level == LogLevel.Error);

            // Nor the host's dispose after it (the process's exit waits for that): one more grace, then it returns. One
            // only: the container disposes the service twice (as itself and as a hosted service).
            var service = host.Services.GetRequiredService<AioLoopService>();
            await ((IAsyncDisposable)host).DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(1, service.GracesGiven);
        }
        finally
        {
            stuck.Set();
        }
    }

    [Fact]
    public async Task Loops_still_stop_cleanly_when_other_services_used_up_the_shutdown_timeout()
    {
        var logs = new CapturingLoggerProvider();
        var builder = OneLoopHost(logs, TimeSpan.FromMilliseconds(300));
        builder.Services.AddHostedService<StopsAtTheDeadline>();
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var loop = host.Services.GetRequiredService<IoThreadGroup>().Threads[0];

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Name == "LoopsDidNotStop");
        Assert.True(loop.Context.IsDisposed, "the host's stop returned with its loops still running");
    }

    [Fact]
    public async Task A_container_without_a_logger_that_claimed_the_same_loop_names_first_does_not_swallow_a_hosts_warnings()
    {
        // A bare ServiceCollection (no logger) with the same Name starts its loops first; the stall warning of the real
        // host's loop is written on the watchdog thread and found by its context's name.
        string name = "bare-first-" + Guid.NewGuid().ToString("N")[..8];
        await using var bare = new ServiceCollection().AddAio(o =>
        {
            o.LoopCount = 1;
            o.Name = name;
        }).BuildServiceProvider();
        _ = bare.GetRequiredService<IoThreadGroup>();
        var (host, logs, context) = await StartStallWatchedHostAsync(name);
        using var disposeHost = host;
        using (var release = new ManualResetEventSlim())
        {
            context.ScheduleOneShot(() => release.Wait(TimeSpan.FromSeconds(20)));
            Aio.Tests.Support.Wait.Until(
                () => logs.Entries.Any(e => e.Category == "Aio" && e.Message.Contains(name + "-0: the loop has been running callbacks", StringComparison.Ordinal)),
                () => Thread.Sleep(10),
                "the stall warning in the host's log");
            release.Set();
        }

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void AddAio_refuses_a_collection_that_already_has_a_group_of_its_own_and_may_be_called_twice()
    {
        // Started beside the registered one, AddAio's group would run unused while the transport served on the other.
        using var group = IoThreadGroup.Start("already-registered", 1);
        var services = new ServiceCollection().AddSingleton(group);
        int before = services.Count;
        var ex = Assert.Throws<InvalidOperationException>(() => services.AddAio());
        Assert.Contains("already registered", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, services.Count);

        var twice = new ServiceCollection().AddAio().AddAio();
        Assert.Single(twice, d => d.ServiceType == typeof(IoThreadGroup));

        // A keyed group is another service, not a conflict (and reading a keyed descriptor's factory throws).
        var keyed = new ServiceCollection().AddKeyedSingleton<IoThreadGroup>("other", (_, _) => throw new InvalidOperationException("not resolved"));
        keyed.AddAio();
        Assert.Equal(2, keyed.Count(d => d.ServiceType == typeof(IoThreadGroup)));
    }

    [Fact]
    public async Task A_group_registered_after_AddAio_fails_the_host_start_before_AddAios_loops_start()
    {
        // Registered last, it wins resolution: the application would use it while AddAio's loops ran unused.
        // Short enough to be a whole thread name in /proc (15 bytes), where the loop thread "{name}-0" would show.
        var name = "ra" + Guid.NewGuid().ToString("N")[..8];
        using var group = IoThreadGroup.Start("user-group", 1);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAio(o =>
        {
            o.LoopCount = 1;
            o.Name = name;
        });
        builder.Services.AddSingleton(group);
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("registered after AddAio", ex.Message, StringComparison.Ordinal);
        Assert.Same(group, host.Services.GetRequiredService<IoThreadGroup>());
        var threads = Directory.GetDirectories("/proc/self/task").Select(t => File.ReadAllText(Path.Combine(t, "comm")).Trim()).ToList();
        Assert.DoesNotContain(name + "-0", threads);
    }

    /// <summary>A started host with one loop, <c>{name}-0</c>, whose stalls over 100 ms are logged.</summary>
    private static async Task<(IHost Host, CapturingLoggerProvider Logs, AioContext Loop)> StartStallWatchedHostAsync(string name)
    {
        var (host, logs) = Build(userFirst: false, o =>
        {
            o.LoopCount = 1;
            o.Name = name;
            o.Context = new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(100) };
        });
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return (host, logs, host.Services.GetRequiredService<IoThreadGroup>().Threads[0].Context);
    }

    /// <summary>A host builder with one Aio loop, its logs captured in <paramref name="logs"/>, and the given ShutdownTimeout.</summary>
    private static HostApplicationBuilder OneLoopHost(CapturingLoggerProvider logs, TimeSpan shutdownTimeout)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout);
        builder.Services.AddAio(o => o.LoopCount = 1);
        return builder;
    }

    /// <summary>A hosted service whose stop takes the host's whole ShutdownTimeout.</summary>
    private sealed class StopsAtTheDeadline : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(20), cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    [Fact]
    public async Task Aio_EventSource_warnings_reach_ILogger()
    {
        // A loop whose io_uring is refused falls back to poll with a Warning event (MonitorFallback).
        var (host, logs) = Build(userFirst: false, o =>
        {
            o.LoopCount = 1;
            o.Name = "hosting-fallback";
            o.Context = new AioContextOptions { SimulatedIoUringErrno = 1 };
        });
        using var disposeHost = host;
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Aio.Tests.Support.Wait.Until(
            () => logs.Entries.Any(e => e.Category == "Aio" && e.Level == LogLevel.Warning && e.Message.Contains("Context hosting-fallback-0: io_uring unavailable", StringComparison.Ordinal)),
            () => Thread.Sleep(10),
            "the monitor fallback warning in the log; got: " + string.Join("; ", logs.Entries.Where(e => e.Category == "Aio")));
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_stalled_loop_is_logged_as_a_warning_once()
    {
        string name = "hosting-stall-" + Guid.NewGuid().ToString("N")[..8];
        var (host, logs, context) = await StartStallWatchedHostAsync(name);
        using var disposeHost = host;
        using var release = new ManualResetEventSlim();
        context.ScheduleOneShot(() => release.Wait(TimeSpan.FromSeconds(20)));
        bool Stalled(LogEntry e) => e.Category == "Aio" && e.Level == LogLevel.Warning && e.Message.Contains($"Context {name}-0: the loop has been running callbacks for", StringComparison.Ordinal);
        Aio.Tests.Support.Wait.Until(() => logs.Entries.Any(Stalled), () => Thread.Sleep(10), "the LoopStalled warning in the log");
        release.Set();
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(after.SetResult);
        await after.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Single(logs.Entries, Stalled);
    }

    [Fact]
    public async Task AddAio_works_in_a_bare_service_collection_disposed_either_way()
    {
        // No host and no AddLogging: the loops start on first use and stop with the container, synchronously...
        IoThreadGroup group;
        using (var provider = new ServiceCollection().AddAio(o => o.LoopCount = 1).BuildServiceProvider())
        {
            group = provider.GetRequiredService<IoThreadGroup>();
            var context = group.Threads[0].Context;
            Assert.True(await context.InvokeAsync(() => Task.FromResult(AioContext.Current == context)).WaitAsync(TimeSpan.FromSeconds(10)));
        }

        Assert.Throws<ObjectDisposedException>(() => group.Next());

        // ... or asynchronously.
        await using (var provider = new ServiceCollection().AddAio(o => o.LoopCount = 1).BuildServiceProvider())
        {
            group = provider.GetRequiredService<IoThreadGroup>();
        }

        Assert.Throws<ObjectDisposedException>(() => group.Next());
    }

    [Theory]
    [InlineData(null, 0L, IoThread.DefaultPollMaxNs)]
    [InlineData(null, 5_000L, 5_000L)]
    [InlineData(0L, 5_000L, 0L)]
    [InlineData(7_000L, 0L, 7_000L)]
    public void PollMaxNs_sets_every_loop_before_the_group_is_handed_out_and_keeps_the_growth_factors(long? pollMaxNs, long contextPollMaxNs, long expected)
    {
        using var provider = new ServiceCollection().AddAio(o =>
        {
            o.LoopCount = 2;
            o.Context = new AioContextOptions { PollMaxNs = contextPollMaxNs, PollGrow = 4, PollShrink = 3 };
            o.PollMaxNs = pollMaxNs;
        }).BuildServiceProvider();
        var group = provider.GetRequiredService<IoThreadGroup>();
        Assert.All(group.Threads, t =>
        {
            Assert.Equal(expected, t.Context.PollCeilingNs);
            Assert.Equal(4, t.Context.PollGrowFactor);
            Assert.Equal(3, t.Context.PollShrinkDivisor);
        });
    }

    [Fact]
    public void A_negative_PollMaxNs_is_refused_when_set()
    {
        var options = new AioHostOptions { PollMaxNs = 1 };
        Assert.Throws<ArgumentOutOfRangeException>(() => options.PollMaxNs = -1);
        Assert.Equal(1, options.PollMaxNs);
    }
}
