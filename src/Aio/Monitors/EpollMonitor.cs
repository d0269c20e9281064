using Aio.Interop;

namespace Aio.Monitors;

/// <summary>
/// epoll(7) monitor (QEMU fdmon-epoll). The interest set lives in the kernel and is changed with epoll_ctl from
/// whichever thread registers (the kernel serialises that); level-triggered, like poll(2). A positive timeout
/// first ppolls the epoll fd with nanosecond precision, because epoll_wait counts in milliseconds and would turn
/// a 200 µs timer into 0 (a busy loop) or 1 ms (a late timer).
/// </summary>
internal sealed class EpollMonitor : IFdMonitor
{
    private const int MaxEvents = 128;
    private readonly HandlerTable _table;
    private readonly byte[] _events = new byte[MaxEvents * EpollEvent.Size];
    private readonly PollFd[] _outer;
    private int _epfd;

    public EpollMonitor(HandlerTable table)
    {
        _table = table;
        _epfd = Errors.Check(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _outer = [new PollFd(_epfd, PollEvents.In)];
    }

    public FdMonitorKind Kind => FdMonitorKind.Epoll;

    // Readiness lives in the kernel until the wait asks for it; no preparers run here; every fd wakes an outer loop.
    public bool HasReadyWork => false;

    public bool IsPreparing => false;

    public long OuterMaxTimeoutNs => -1;

    public IReadOnlyList<PollFd> OuterFds => _outer;

    public void Update(int fd, AioHandler? oldHandler, AioHandler? newHandler)
    {
        if (newHandler is null)
        {
            // ENOENT/EBADF: the fd was closed and so already left the set.
            _ = Libc.EpollCtlFd(_epfd, Libc.EPOLL_CTL_DEL, fd, 0);
            return;
        }

        uint events = (uint)newHandler.Events;
        int op = oldHandler is null ? Libc.EPOLL_CTL_ADD : Libc.EPOLL_CTL_MOD;
        if (Libc.EpollCtlFd(_epfd, op, fd, events) == 0)
        {
            return;
        }

        int errno = Errors.LastErrno;
        if (op == Libc.EPOLL_CTL_MOD && errno == Errno.ENOENT && Libc.EpollCtlFd(_epfd, Libc.EPOLL_CTL_ADD, fd, events) == 0)
        {
            return;
        }

        if (op == Libc.EPOLL_CTL_ADD && errno == Errno.EEXIST && Libc.EpollCtlFd(_epfd, Libc.EPOLL_CTL_MOD, fd, events) == 0)
        {
            return;
        }

        Errors.Throw(errno, "epoll_ctl");
    }

    public void Wait(ReadyCollector ready, long timeoutNs)
    {
        int timeoutMs = timeoutNs < 0 ? -1 : 0;
        if (timeoutNs > 0)
        {
            int rc = Libc.PollOne(_epfd, Libc.POLLIN, timeoutNs);
            if (rc <= 0)
            {
                return;
            }
        }

        Collect(ready, timeoutMs);
    }

    // A handler without a busy-poll callback can only be seen through the syscall (QEMU: aio_poll_disabled).
    public bool NeedWait() => _table.WithoutPoll > 0;

    public void OuterPrepare()
    {
    }

    public bool OuterCheck() => Libc.PollOne(_epfd, Libc.POLLIN, 0) > 0;

    public void OuterCollect(ReadyCollector ready) => Collect(ready, 0);

    public void Dispose()
    {
        Libc.CloseQuietly(Interlocked.Exchange(ref _epfd, -1));
    }

    private void Collect(ReadyCollector ready, int timeoutMs)
    {
        int n = Libc.EpollWaitInto(_epfd, _events, timeoutMs);
        if (n < 0)
        {
            Errors.ThrowLast("epoll_wait");
        }

        if (n == 0)
        {
            return;
        }

        lock (_table.Sync)
        {
            for (int i = 0; i < n; i++)
            {
                var (events, fd) = Libc.EpollEntry(_events, i);
                if (_table.Find(fd) is { } handler)
                {
                    ready.Add(handler, (PollEvents)(short)events);
                }
            }
        }
    }
}
