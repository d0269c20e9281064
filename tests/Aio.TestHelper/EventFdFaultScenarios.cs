using Aio.Diagnostics;

namespace Aio.TestHelper;

/// <summary>eventfd2 fails once (when=1): the call that hit it throws a clear AioException; the next one works.</summary>
internal static class EventFdFaultScenarios
{
    public static void CreateThrowsThenRecovers(int errno)
    {
        string name = Aio.Interop.Errno.Name(errno);
        var before = FdCount.Snapshot();
        Progress.Set("AioContext.Create() under the eventfd2 fault");
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Name = "eventfd-fault" });
            Report.Fail($"Create() succeeded although eventfd2 failed with {name} (monitor {ctx.Monitor})");
        }
        catch (AioException ex)
        {
            Report.Check(
                ex.Errno == errno && ex.Message.Contains("eventfd", StringComparison.Ordinal),
                $"Create() threw AioException({name}) naming eventfd: {ex.Message}",
                $"AioException errno {ex.Errno}, message: {ex.Message}");
        }

        FdCount.CheckNoLeak(before, "the failed Create closed every fd it had opened");
        Report.Check(
            ContextRegistry.Live.Count == 0,
            "no half-built context is registered",
            $"{ContextRegistry.Live.Count} live context(s): {string.Join(", ", ContextRegistry.Live.Select(c => c.Name))}");

        Progress.Set("AioContext.Create() after the fault");
        using var again = AioContext.Create(new AioContextOptions { Name = "eventfd-recovered" });
        var faults = new PollFaults();
        int runs = Handlers.RunNotifierHandler(again, faults);
        Report.Check(
            runs == 1 && faults.Count == 0,
            $"Create() works again once eventfd2 succeeds ({again.Monitor}; an fd handler runs)",
            $"runs={runs}, Poll threw: {faults.Describe()}");
    }

    public static void NotifierThrowsThenRecovers(int errno)
    {
        string name = Aio.Interop.Errno.Name(errno);
        Progress.Set("new EventNotifier() under the eventfd2 fault");
        try
        {
            using var e = new EventNotifier();
            Report.Fail($"new EventNotifier() succeeded although eventfd2 failed with {name} (fd {e.Fd})");
        }
        catch (AioException ex)
        {
            Report.Check(
                ex.Errno == errno && ex.Message.Contains("eventfd", StringComparison.Ordinal),
                $"new EventNotifier() threw AioException({name}) naming eventfd: {ex.Message}",
                $"AioException errno {ex.Errno}, message: {ex.Message}");
        }

        using var again = new EventNotifier();
        again.Set();
        bool wasSet = again.TestAndClear();
        bool clear = !again.TestAndClear();
        Report.Check(wasSet && clear, "new EventNotifier() works again once eventfd2 succeeds", $"TestAndClear after Set={wasSet}, second TestAndClear cleared={clear}");
    }
}
