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
    public void An_fd_epoll_refuses_sends_an_upgraded_context_back_to_poll_for_good()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("regular", 16);
        using var ctx = AioContext.Create(new AioContextOptions { Name = "downgrade", SimulatedIoUringErrno = Aio.Interop.Errno.EPERM });
        var notifiers = Enumerable.Range(0, 70).Select(_ => new EventNotifier()).ToArray();
        using var file = File.OpenHandle(path);
        try
        {
            foreach (var n in notifiers)
            {
                ctx.SetEventNotifier(n, e => e.TestAndClear());
            }

            ctx.Poll(false);
            Assert.Equal(FdMonitorKind.Epoll, ctx.Monitor);

            // epoll_ctl refuses regular files (EPERM); poll(2) reports them always readable.
            int fileRuns = 0;
            ctx.SetFdHandler((int)file.DangerousGetHandle(), () => fileRuns++, null);
            Assert.True(ctx.Poll(false));
            Assert.Equal(FdMonitorKind.Poll, ctx.Monitor);
            Assert.True(fileRuns >= 1);
            ctx.RemoveFdHandler((int)file.DangerousGetHandle());

            // For good: still past the threshold, it stays on poll(2).
            ctx.Poll(false);
            ctx.Poll(false);
            Assert.Equal(FdMonitorKind.Poll, ctx.Monitor);
            notifiers[5].Set();
            Assert.True(ctx.Poll(false));
        }
        finally
        {
            foreach (var n in notifiers)
            {
                ctx.SetEventNotifier(n, null);
                n.Dispose();
            }
        }
    }

    [Fact]
    public void Explicit_epoll_refusing_an_fd_throws_and_changes_nothing()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("regular", 16);
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll });
        using var file = File.OpenHandle(path);
        int before = ctx.HandlerCount;
        var ex = Assert.Throws<AioException>(() => ctx.SetFdHandler((int)file.DangerousGetHandle(), () => { }, null));
        Assert.Equal(Aio.Interop.Errno.EPERM, ex.Errno);
        Assert.Equal(before, ctx.HandlerCount);
        Assert.Equal(FdMonitorKind.Epoll, ctx.Monitor);
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
