using Aio.Diagnostics;

namespace Aio.TestHelper;

/// <summary>epoll_create1 or epoll_ctl fails.</summary>
internal static class EpollFaultScenarios
{
    /// <summary>More fds than the poll(2) monitor's upgrade threshold (64).</summary>
    private const int Fds = 70;

    /// <summary>
    /// An explicit epoll request whose <paramref name="call"/> fails (epoll_create1, or epoll_ctl when the new context
    /// registers its own notifier: ENOSPC is max_user_watches) gets an AioException naming the call, and leaves nothing
    /// behind (the epoll fd included).
    /// </summary>
    public static void ExplicitThrows(string call, int errno)
    {
        string name = Aio.Interop.Errno.Name(errno);
        var before = FdCount.Snapshot();
        Progress.Set($"AioContext.Create(Monitor = Epoll) under the {call} fault");
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll, Name = call + "-fault" });
            Report.Fail($"Create(Monitor = Epoll) succeeded although {call} failed with {name} (monitor {ctx.Monitor})");
        }
        catch (AioException ex)
        {
            Report.Check(
                ex.Errno == errno && ex.Message.Contains(call, StringComparison.Ordinal),
                $"Create(Monitor = Epoll) threw AioException({name}) naming {call}: {ex.Message}",
                $"AioException errno {ex.Errno}, message: {ex.Message}");
        }

        FdCount.CheckNoLeak(before, "the failed Create closed every fd it had opened");
        Report.Check(ContextRegistry.Live.Count == 0, "no half-built context is registered", $"{ContextRegistry.Live.Count} live context(s)");
    }

    /// <summary>
    /// Auto mode without io_uring (io_uring_setup is failed too) upgrades poll(2) to epoll past 64 fds; when
    /// epoll_create1 fails it stays on poll(2), says so, and keeps dispatching every handler.
    /// </summary>
    public static void UpgradeFailureStaysOnPoll()
    {
        using var events = new AioEvents();
        using var ctx = AioContext.Create(new AioContextOptions { Name = "epoll-upgrade" });
        Report.Check(ctx.Monitor == FdMonitorKind.Poll, "auto mode without io_uring starts on poll(2)", $"monitor {ctx.Monitor}");

        var notifiers = new EventNotifier[Fds];
        var runs = new int[Fds];
        try
        {
            for (int i = 0; i < Fds; i++)
            {
                int id = i;
                notifiers[i] = new EventNotifier();
                ctx.SetEventNotifier(notifiers[i], n =>
                {
                    n.TestAndClear();
                    runs[id]++;
                });
            }

            var faults = new PollFaults();
            for (int round = 1; round <= 2; round++)
            {
                foreach (var n in notifiers)
                {
                    n.Set();
                }

                int expected = round;
                Progress.Set(() => $"round {expected}: handlers that ran {runs.Count(r => r >= expected)}/{Fds}, monitor {ctx.Monitor}");
                bool all = Loop.RunUntil(ctx, () => runs.All(r => r >= expected), TimeSpan.FromSeconds(3), faults);
                int[] wrong = Enumerable.Range(0, Fds).Where(i => runs[i] != expected).ToArray();
                Report.Check(
                    all && wrong.Length == 0,
                    $"round {round}: each of the {Fds} handlers ran exactly {round} time(s) (monitor {ctx.Monitor})",
                    $"handlers with a wrong count: {string.Join(", ", wrong.Select(i => $"#{i}={runs[i]}"))}");
            }

            Report.Check(faults.Count == 0, "Poll never threw", faults.Describe());
            Report.Check(ctx.Monitor == FdMonitorKind.Poll, "the context stayed on poll(2)", $"monitor {ctx.Monitor}");
            string? fallback = AioEvents.Find("MonitorFallback", "epoll", "poll", "epoll_create1");
            Report.Check(
                fallback is not null,
                $"the Aio EventSource reported the failed upgrade naming epoll_create1: {fallback}",
                $"no MonitorFallback event naming epoll_create1; events: {AioEvents.Describe()}");
        }
        finally
        {
            foreach (var n in notifiers)
            {
                if (n is not null)
                {
                    ctx.SetEventNotifier(n, null);
                    n.Dispose();
                }
            }
        }
    }
}
