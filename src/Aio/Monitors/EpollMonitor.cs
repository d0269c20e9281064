using Aio.Interop;

namespace Aio.Monitors;

/// <summary>
/// epoll(7) monitor (QEMU fdmon-epoll). The interest set lives in the kernel and is changed with epoll_ctl from
/// whichever thread registers (the kernel serialises that); level-triggered, like poll(2). A positive timeout
/// first ppolls the epoll fd with nanosecond precision, because epoll_wait counts in milliseconds and would turn
/// a 200 µs timer into 0 (a busy loop) or 1 ms (a late timer).
/// </summary>
/// <remarks>
/// <para><b>fds closed behind our back.</b> epoll registers a file, not an fd number: closing the fd removes the
/// registration only when no other fd (a dup, a child's copy) keeps the file open, and then nothing is reported at all.
/// Otherwise the registration outlives the close, can no longer be changed or deleted through the fd number, and goes
/// on reporting the old file's readiness under that number, to whatever handler is registered for it by then.</para>
/// <para>So each registration carries its own epoll data (a generation beside the fd) and the identity of its file
/// (device, inode). An event whose data is not the current handler's is stale; seen in two collects in a row (a
/// change racing one epoll_wait explains a single one), it makes the monitor rebuild its interest set on a fresh epoll
/// fd, the only way to drop a registration that outlived its fd. A periodic sweep compares every handler's fd with the
/// identity it was registered with and removes the ones that were closed (or whose number now names another file) with
/// the diagnostic event, as poll(2)'s POLLNVAL does.</para>
/// </remarks>
internal sealed class EpollMonitor : IFdMonitor
{
    private const int MaxEvents = 128;
    private readonly HandlerTable _table;
    private readonly Action<AioHandler> _onInvalidFd;
    private readonly byte[] _events = new byte[MaxEvents * EpollEvent.Size];
    private readonly List<AioHandler> _scratch = [];
    private HashSet<ulong> _stale = [];
    private HashSet<ulong> _previousStale = [];
    private PollFd[] _outer;
    private int _epfd;
    private uint _generation;
    private volatile bool _rebuild;
    private long _nextSweepNs;
    private long _sweepIntervalNs = 1_000_000_000;

    public EpollMonitor(HandlerTable table, Action<AioHandler> onInvalidFd)
    {
        _table = table;
        _onInvalidFd = onInvalidFd;
        _epfd = Errors.Check(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _outer = [new PollFd(_epfd, PollEvents.In)];
        _nextSweepNs = MonotonicClock.Ns + SweepIntervalNs;
    }

    public FdMonitorKind Kind => FdMonitorKind.Epoll;

    // Readiness lives in the kernel until the wait asks for it; no preparers run here; every fd wakes an outer loop.
    public bool HasReadyWork => false;

    public bool HasKernelCompletions => false;

    public bool IsPreparing => false;

    public long OuterMaxTimeoutNs => -1;

    public IReadOnlyList<PollFd> OuterFds => _outer;

    /// <summary>
    /// The least time between two sweeps for closed fds. A sweep costs one statx per handler; the interval also grows by
    /// 1 ms per handler, so it never takes more than about a thousandth of the loop's time. 0 sweeps before every wait (tests).
    /// </summary>
    internal long SweepIntervalNs
    {
        get => _sweepIntervalNs;
        init
        {
            _sweepIntervalNs = value;
            _nextSweepNs = MonotonicClock.Ns + value;
        }
    }

    public void Update(int fd, AioHandler? oldHandler, AioHandler? newHandler)
    {
        // Any thread, table lock held.
        if (newHandler is null)
        {
            if (Libc.EpollCtlFd(_epfd, Libc.EPOLL_CTL_DEL, fd, 0) != 0)
            {
                // ENOENT/EBADF: the fd no longer names the registered file. Its registration is gone with it, unless a
                // dup keeps that file open: then only a rebuild can drop it.
                _rebuild = true;
            }

            return;
        }

        if (Libc.FileIdentity(fd, out ulong device, out ulong inode) != 0)
        {
            Errors.ThrowLast("statx");
        }

        ulong data = ((ulong)++_generation << 32) | (uint)fd;
        uint events = (uint)newHandler.Events;
        if (oldHandler?.MonitorState is EpollRegistration old && (old.Device != device || old.Inode != inode))
        {
            // The old handler's fd was closed behind our back and its number reused: its registration (if a dup keeps
            // the file open) would report the old file under this number.
            _rebuild = true;
        }

        int op = oldHandler is null ? Libc.EPOLL_CTL_ADD : Libc.EPOLL_CTL_MOD;
        if (Libc.EpollCtlFd(_epfd, op, fd, events, data) != 0)
        {
            int errno = Errors.LastErrno;
            int retry = (op, errno) switch
            {
                (Libc.EPOLL_CTL_MOD, Errno.ENOENT) => Libc.EPOLL_CTL_ADD,
                (Libc.EPOLL_CTL_ADD, Errno.EEXIST) => Libc.EPOLL_CTL_MOD,
                _ => 0,
            };
            if (retry == 0 || Libc.EpollCtlFd(_epfd, retry, fd, events, data) != 0)
            {
                Errors.Throw(retry == 0 ? errno : Errors.LastErrno, "epoll_ctl");
            }

            _rebuild |= retry == Libc.EPOLL_CTL_ADD;
        }

        newHandler.MonitorState = new EpollRegistration(data, device, inode);
    }

    public void Wait(ReadyCollector ready, long timeoutNs)
    {
        Maintain();
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
    public bool NeedWait() => _table.WithoutPoll > 0 || _rebuild;

    public void OuterPrepare() => Maintain();

    public bool OuterCheck() => Libc.PollOne(_epfd, Libc.POLLIN, 0) > 0;

    public void OuterCollect(ReadyCollector ready) => Collect(ready, 0);

    public void Dispose()
    {
        Libc.CloseQuietly(Interlocked.Exchange(ref _epfd, -1));
    }

    /// <summary>Home thread, before waiting: the periodic sweep for closed fds, and a rebuild when one is due.</summary>
    private void Maintain()
    {
        long now = MonotonicClock.Ns;
        if (now >= _nextSweepNs)
        {
            Sweep();
            _nextSweepNs = SweepIntervalNs == 0 ? 0 : MonotonicClock.Ns + SweepIntervalNs + (_table.Count * 1_000_000L);
        }

        if (_rebuild)
        {
            Rebuild();
        }
    }

    /// <summary>Removes (with the diagnostic event) every handler whose fd no longer names the file it was registered with.</summary>
    private void Sweep()
    {
        lock (_table.Sync)
        {
            _table.CopyTo(_scratch);
        }

        foreach (var handler in _scratch)
        {
            if (handler.MonitorState is EpollRegistration registration && !StillNames(handler.Fd, registration))
            {
                _onInvalidFd(handler);
                _rebuild = true;
            }
        }

        _scratch.Clear();
    }

    /// <summary>
    /// A fresh epoll fd with every live handler's registration, replacing the old one (and whatever registrations outlived
    /// their fds in it). Outer loops see the new fd in <see cref="OuterFds"/>.
    /// </summary>
    private void Rebuild()
    {
        int fresh = Errors.Check(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        var invalid = new List<AioHandler>();
        lock (_table.Sync)
        {
            // Cleared first: a change racing the rebuild is made on the new fd (it takes this lock) and sets it again.
            _rebuild = false;
            _table.CopyTo(_scratch);
            foreach (var handler in _scratch)
            {
                ulong data = handler.MonitorState is EpollRegistration r ? r.Data : (uint)handler.Fd;
                if (handler.MonitorState is EpollRegistration registration && !StillNames(handler.Fd, registration))
                {
                    invalid.Add(handler);
                }
                else if (Libc.EpollCtlFd(fresh, Libc.EPOLL_CTL_ADD, handler.Fd, (uint)handler.Events, data) != 0)
                {
                    invalid.Add(handler);
                }
            }

            _scratch.Clear();
            int old = Interlocked.Exchange(ref _epfd, fresh);
            _outer = [new PollFd(fresh, PollEvents.In)];
            Libc.CloseQuietly(old);
        }

        _stale.Clear();
        _previousStale.Clear();
        foreach (var handler in invalid)
        {
            _onInvalidFd(handler);
        }
    }

    private static bool StillNames(int fd, EpollRegistration registration)
        => Libc.FileIdentity(fd, out ulong device, out ulong inode) == 0 && device == registration.Device && inode == registration.Inode;

    private void Collect(ReadyCollector ready, int timeoutMs)
    {
        int n = Libc.EpollWaitInto(_epfd, _events, timeoutMs);
        if (n < 0)
        {
            Errors.ThrowLast("epoll_wait");
        }

        (_stale, _previousStale) = (_previousStale, _stale);
        _stale.Clear();
        if (n == 0)
        {
            return;
        }

        bool rebuild = false;
        lock (_table.Sync)
        {
            for (int i = 0; i < n; i++)
            {
                var (events, data) = Libc.EpollEntry(_events, i);
                if (_table.Find((int)(uint)data) is { MonitorState: EpollRegistration { } registration } handler && registration.Data == data)
                {
                    ready.Add(handler, (PollEvents)(short)events);
                    continue;
                }

                // Not the current registration of that fd: stale for good if the last collect saw it too.
                _stale.Add(data);
                rebuild |= _previousStale.Contains(data);
            }
        }

        if (rebuild)
        {
            _rebuild = true;
        }
    }

    public IRequestRing? Requests => null;

    public void BindHomeThread()
    {
    }

    public void SubmitPending()
    {
    }

    public int PrepareForOuterLoop() => 0;

    public bool HoldsHandler(AioHandler handler) => false;
}
