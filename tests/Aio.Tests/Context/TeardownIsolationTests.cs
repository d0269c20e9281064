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
}
