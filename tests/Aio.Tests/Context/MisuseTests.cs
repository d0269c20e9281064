using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// Misuse of fds and callbacks. Runs alone: a closed fd number stays registered here, and a test running beside it
/// could reuse the number for an fd of its own (a readable socket would then be dispatched to this test's handler).
/// </summary>
[Collection(FdCountingCollection.Name)]
public class MisuseTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Negative_or_closed_fd_is_EBADF_at_registration(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        Assert.Equal(Errno.EBADF, Assert.Throws<AioException>(() => ctx.SetFdHandler(-1, () => { }, null)).Errno);
        Assert.Equal(Errno.EBADF, Assert.Throws<AioException>(() => ctx.SetFdHandler(NeverOpenFd(), () => { }, null)).Errno);
        Assert.Equal(Errno.EBADF, Assert.Throws<AioException>(() => ctx.SetFdHandler(int.MaxValue, () => { }, null)).Errno);
        Assert.False(ctx.Poll(false));
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Fd_closed_while_registered_neither_crashes_nor_spins(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var (r, w) = Libc.CreatePipe();
        int runs = 0;
        ctx.SetFdHandler(r, () => runs++, null);
        Libc.CloseQuietly(r);
        Libc.CloseQuietly(w);
        for (int i = 0; i < 5; i++)
        {
            ctx.Poll(false);
        }

        long iterations = ctx.Statistics.Iterations;
        Assert.Equal(5, iterations);
        Assert.True(runs <= 1, $"the dead fd was dispatched {runs} times");

        // The loop still works.
        int bh = 0;
        ctx.ScheduleOneShot(() => bh++);
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, bh);
        ctx.RemoveFdHandler(r);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Throwing_fd_callback_surfaces_and_the_context_stays_usable(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var e = new EventNotifier();
        bool thrown = false;
        ctx.SetEventNotifier(e, en =>
        {
            en.TestAndClear();
            if (!thrown)
            {
                thrown = true;
                throw new InvalidProgramException("from a handler");
            }
        });
        e.Set();
        Assert.Throws<InvalidProgramException>(() => ctx.Poll(false));
        Assert.Null(AioContext.Current);
        e.Set();
        Assert.True(ctx.Poll(false));
        Assert.False(ctx.Poll(false));
        ctx.SetEventNotifier(e, null);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Everything_after_dispose_throws_ObjectDisposedException(FdMonitorKind kind)
    {
        var ctx = MonitorKinds.Create(kind);
        var bh = ctx.CreateBottomHalf(() => { });
        var timer = ctx.CreateTimer(AioClock.Monotonic, () => { });
        using var e = new EventNotifier();
        ctx.Dispose();
        ctx.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));
        Assert.Throws<ObjectDisposedException>(ctx.Notify);
        Assert.Throws<ObjectDisposedException>(() => ctx.ScheduleOneShot(() => { }));
        Assert.Throws<ObjectDisposedException>(() => ctx.CreateBottomHalf(() => { }));
        Assert.Throws<ObjectDisposedException>(() => ctx.CreateTimer(AioClock.Monotonic, () => { }));
        Assert.Throws<ObjectDisposedException>(() => ctx.SetEventNotifier(e, _ => { }));
        Assert.Throws<ObjectDisposedException>(bh.Schedule);
        Assert.Throws<ObjectDisposedException>(() => timer.ArmAfter(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Bad_arguments_are_rejected_before_anything_changes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AioContext.Create(new AioContextOptions { PollMaxNs = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => AioContext.Create(new AioContextOptions { RingEntries = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => AioContext.Create(new AioContextOptions { Monitor = (FdMonitorKind)42 }));
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        Assert.Throws<ArgumentNullException>(() => ctx.ScheduleOneShot(null!));
        Assert.Throws<ArgumentNullException>(() => ctx.CreateBottomHalf(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.SetPollParameters(-1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.SetAioParameters(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.CreateTimer((AioClock)9, () => { }));
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => { });
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.ArmAt(-5));
        Assert.False(timer.IsPending);
    }

    [Fact]
    public void Current_is_the_polling_context_only_inside_poll()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        AioContext? inside = null;
        SynchronizationContext? sync = null;
        ctx.ScheduleOneShot(() =>
        {
            inside = AioContext.Current;
            sync = SynchronizationContext.Current;
        });
        Assert.Null(AioContext.Current);
        ctx.Poll(false);
        Assert.Same(ctx, inside);
        Assert.Same(ctx.SynchronizationContext, sync);
        Assert.Null(AioContext.Current);
    }

    /// <summary>
    /// A closed fd number that no thread of this process can be given: RLIMIT_NOFILE's hard limit (numbers run from 0 to
    /// limit - 1, and the soft limit cannot be raised above it). A number closed by the test itself could be reused at
    /// once by a parallel test, which then made the registration succeed.
    /// </summary>
    private static int NeverOpenFd()
    {
        foreach (string line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                string hard = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
                return hard == "unlimited" ? int.MaxValue : (int)Math.Min(int.MaxValue, long.Parse(hard, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        throw new InvalidOperationException("/proc/self/limits has no 'Max open files' line");
    }
}
