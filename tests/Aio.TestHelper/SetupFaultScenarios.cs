namespace Aio.TestHelper;

/// <summary>io_uring_setup fails with the injected errno (ENOMEM: locked-memory limit; EMFILE: fd table full).</summary>
internal static class SetupFaultScenarios
{
    /// <summary>Auto mode falls back to a working poll(2) context and says so on the Aio EventSource.</summary>
    public static void AutoFallsBack(int errno)
    {
        string name = Aio.Interop.Errno.Name(errno);
        using var events = new AioEvents();
        Progress.Set("AioContext.Create() under the io_uring_setup fault");
        using var ctx = AioContext.Create(new AioContextOptions { Name = "setup-fault" });
        Report.Check(
            !ctx.HasIoUring && ctx.Monitor != FdMonitorKind.IoUring,
            $"Create() fell back from io_uring to {ctx.Monitor}",
            $"got monitor {ctx.Monitor}, HasIoUring={ctx.HasIoUring}");

        var faults = new PollFaults();
        int runs = Handlers.RunNotifierHandler(ctx, faults);
        Report.Check(runs == 1 && faults.Count == 0, "the fallback context runs an fd handler", $"runs={runs}, Poll threw: {faults.Describe()}");

        string? fallback = AioEvents.Find("MonitorFallback", "setup-fault", "io_uring", "io_uring_setup", name);
        Report.Check(
            fallback is not null,
            $"the Aio EventSource reported the fallback naming io_uring_setup and {name}: {fallback}",
            $"no MonitorFallback event naming io_uring_setup and {name}; events: {AioEvents.Describe()}");
    }

    /// <summary>An explicit io_uring request gets an AioException carrying the errno and naming io_uring_setup.</summary>
    public static void ExplicitThrows(int errno)
    {
        string name = Aio.Interop.Errno.Name(errno);
        var before = FdCount.Snapshot();
        Progress.Set("AioContext.Create(Monitor = IoUring) under the io_uring_setup fault");
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            Report.Fail($"Create(Monitor = IoUring) succeeded under the io_uring_setup {name} fault (monitor {ctx.Monitor})");
            return;
        }
        catch (AioException ex)
        {
            Report.Check(
                ex.Errno == errno && ex.Message.Contains("io_uring_setup", StringComparison.Ordinal),
                $"Create(Monitor = IoUring) threw AioException({name}) naming io_uring_setup: {ex.Message}",
                $"AioException errno {ex.Errno}, message: {ex.Message}");
        }

        FdCount.CheckNoLeak(before, "the failed Create closed every fd it had opened");
    }
}
