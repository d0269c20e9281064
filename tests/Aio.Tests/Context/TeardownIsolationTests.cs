using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// A teardown step that throws does not skip the ones after it: Dispose still closes the ring, the monitor and the
/// notifier, then rethrows. Counts this process's fds, so it runs alone.
/// </summary>
[Collection(FdCountingCollection.Name)]
public class TeardownIsolationTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_throwing_teardown_step_still_lets_every_other_one_close_its_fds(FdMonitorKind kind)
    {
        int before = NetLoops.OpenFds();
        var ctx = AioContext.Create(new AioContextOptions { Monitor = kind });
        Assert.True(NetLoops.OpenFds() > before, "the context opened no fd: the count cannot show a leak");

        // The first step abandons scheduled bottom halves; this one's abandonment callback throws.
        var bh = ctx.CreateBottomHalf(() => { }, "throws-when-abandoned", () => throw new InvalidOperationException("abandoned"));
        bh.Schedule();

        var ex = Assert.Throws<InvalidOperationException>(ctx.Dispose);
        Assert.Equal("abandoned", ex.Message);
        Assert.True(ctx.IsDisposed);
        Assert.Equal(before, NetLoops.OpenFds());
    }

    [Fact]
    public void A_throwing_abandon_callback_does_not_keep_the_other_bottom_halves_from_being_abandoned()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        int laterAbandoned = 0;
        ctx.CreateBottomHalf(() => { }, "throws-when-abandoned", () => throw new InvalidOperationException("abandoned")).Schedule();
        ctx.CreateBottomHalf(() => { }, "scheduled-after-it", () => laterAbandoned++).Schedule();

        // And one scheduled from another thread, which waits on the lock-free stack rather than in a batch.
        var foreign = new Thread(() => ctx.CreateBottomHalf(() => { }, "from-another-thread", () => laterAbandoned++).Schedule());
        foreign.Start();
        Wait.Join(foreign, "the bottom half scheduled from another thread");

        var ex = Assert.Throws<InvalidOperationException>(ctx.Dispose);
        Assert.Equal("abandoned", ex.Message);
        Assert.Equal(2, laterAbandoned);
    }

    [IoUringFact]
    public void Requests_whose_teardown_threw_keep_the_receive_buffers_the_kernel_may_still_write()
    {
        using var pair = new SocketPair();
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        ctx.Poll(false);
        var net = ctx.NetLoop;

        // A POLL_ADD on a socket nobody writes: in flight at Dispose, cancelled there, and its (internal) abandon hook
        // throws as a bug in one would.
        ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In), pair.A, new ThrowingWhenAbandoned());
        ctx.Poll(false);

        var ex = Assert.Throws<InvalidOperationException>(ctx.Dispose);
        Assert.Equal("abandon bug", ex.Message);
        Assert.True(net.KeepsBuffers, "the network state was retired as if every request had been released");
    }

    private sealed class ThrowingWhenAbandoned : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe)
        {
        }

        internal override void OnAbandoned(bool kernelReleased) => throw new InvalidOperationException("abandon bug");
    }
}
