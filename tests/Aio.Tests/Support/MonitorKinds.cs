using Xunit;

namespace Aio.Tests.Support;

/// <summary>Theory data: every context test runs once per monitor.</summary>
public static class MonitorKinds
{
    public static TheoryData<FdMonitorKind> All
    {
        get
        {
            var data = new TheoryData<FdMonitorKind>();
            foreach (var kind in Kinds)
            {
                data.Add(kind);
            }

            return data;
        }
    }

    /// <summary>Every monitor, each with false and with true (a second dimension: Unix or TCP, one segment or several...).</summary>
    public static TheoryData<FdMonitorKind, bool> AllTimesTwo
    {
        get
        {
            var data = new TheoryData<FdMonitorKind, bool>();
            foreach (var kind in Kinds)
            {
                data.Add(kind, false);
                data.Add(kind, true);
            }

            return data;
        }
    }

    /// <summary>The monitors this machine can run: all three, or poll and epoll where io_uring is refused.</summary>
    public static IEnumerable<FdMonitorKind> Kinds => IoUringAvailable
        ? [FdMonitorKind.Poll, FdMonitorKind.Epoll, FdMonitorKind.IoUring]
        : [FdMonitorKind.Poll, FdMonitorKind.Epoll];

    /// <summary>Whether this kernel lets the test process set up a ring (false under a seccomp profile that blocks it).</summary>
    public static bool IoUringAvailable { get; } = Probe();

    /// <summary>The skip reason of the tests that need io_uring, where <see cref="IoUringAvailable"/> is false.</summary>
    public const string IoUringRefused = "the kernel refuses io_uring to this process (seccomp or kernel.io_uring_disabled)";

    /// <summary><see cref="IoUringRefused"/> where io_uring is refused, else null: a test attribute's Skip.</summary>
    public static string? IoUringSkip => IoUringAvailable ? null : IoUringRefused;

    public static AioContext Create(FdMonitorKind kind, long pollMaxNs = 0) => AioContext.Create(new AioContextOptions { Monitor = kind, PollMaxNs = pollMaxNs, Name = "test-" + kind });

    private static bool Probe()
    {
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            return true;
        }
        catch (AioException)
        {
            return false;
        }
    }
}
