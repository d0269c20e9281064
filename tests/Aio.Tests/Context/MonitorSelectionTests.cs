using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class MonitorSelectionTests
{
    [Fact]
    public void Poll_monitor_becomes_epoll_past_64_fds_and_still_dispatches()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Name = "upgrade", SimulatedIoUringErrno = Aio.Interop.Errno.EPERM });
        Assert.Equal(FdMonitorKind.Poll, ctx.Monitor);
        var notifiers = Enumerable.Range(0, 100).Select(_ => new EventNotifier()).ToArray();
        try
        {
            var hits = new int[notifiers.Length];
            for (int i = 0; i < notifiers.Length; i++)
            {
                int me = i;
                ctx.SetEventNotifier(notifiers[i], e =>
                {
                    e.TestAndClear();
                    hits[me]++;
                });
            }

            Assert.False(ctx.Poll(false));
            Assert.Equal(FdMonitorKind.Epoll, ctx.Monitor);
            notifiers[73].Set();
            Assert.True(ctx.Poll(false));
            Assert.Equal(1, hits[73]);
            Assert.Equal(1, hits.Sum());
            foreach (var n in notifiers)
            {
                ctx.SetEventNotifier(n, null);
            }
        }
        finally
        {
            foreach (var n in notifiers)
            {
                n.Dispose();
            }
        }
    }

    [Fact]
    public void Explicit_monitors_are_honoured()
    {
        using var p = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        using var e = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll });
        Assert.Equal(FdMonitorKind.Poll, p.Monitor);
        Assert.Equal(FdMonitorKind.Epoll, e.Monitor);
        Assert.False(p.HasIoUring);
        Assert.Null(p.IoUring);
    }
}
