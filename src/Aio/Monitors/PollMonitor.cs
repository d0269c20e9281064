using Aio.Interop;

namespace Aio.Monitors;

/// <summary>
/// poll(2) monitor (QEMU fdmon-poll). Keeps no kernel state: every wait passes the whole pollfd array, rebuilt
/// from the handler table only when its version changed. It handles any fd poll(2) handles, regular files included,
/// and is the only monitor that can show every fd to an outer loop. Past 64 fds the context swaps it for epoll.
/// </summary>
internal sealed class PollMonitor : IFdMonitor
{
    private readonly HandlerTable _table;
    private readonly Action<AioHandler> _onInvalidFd;
    private readonly List<AioHandler> _scratch = [];
    private NativePollFd[] _pfds = new NativePollFd[16];
    private AioHandler[] _handlers = new AioHandler[16];
    private PollFd[] _outer = [];
    private int _count;
    private int _builtVersion = -1;
    private int _outerVersion = -1;

    public PollMonitor(HandlerTable table, Action<AioHandler> onInvalidFd)
    {
        _table = table;
        _onInvalidFd = onInvalidFd;
    }

    public FdMonitorKind Kind => FdMonitorKind.Poll;

    // Readiness lives in the kernel until the wait asks for it; no preparers run here; every fd wakes an outer loop.
    public bool HasReadyWork => false;

    public bool HasKernelCompletions => false;

    public bool IsPreparing => false;

    public long OuterMaxTimeoutNs => -1;

    // Any thread (AioSource.Fds is public, and an attach reads it on the attaching thread): built from the table under
    // its lock into a list of its own, never through Rebuild, whose arrays belong to the loop's wait. A foreign Rebuild
    // could publish a count larger than the array the loop then hands to ppoll.
    public IReadOnlyList<PollFd> OuterFds
    {
        get
        {
            lock (_table.Sync)
            {
                if (_outerVersion != _table.Version)
                {
                    var handlers = new List<AioHandler>();
                    _table.CopyTo(handlers);
                    var outer = new PollFd[handlers.Count];
                    for (int i = 0; i < outer.Length; i++)
                    {
                        outer[i] = new PollFd(handlers[i].Fd, handlers[i].Events);
                    }

                    _outer = outer;
                    _outerVersion = _table.Version;
                }

                return _outer;
            }
        }
    }

    // Nothing to tell the kernel: the next wait rebuilds from the table (the caller notifies the loop).
    public void Update(int fd, AioHandler? oldHandler, AioHandler? newHandler)
    {
    }

    public void Wait(ReadyCollector ready, long timeoutNs)
    {
        Rebuild();
        int n = Libc.PPollArray(_pfds, _count, timeoutNs);
        if (n < 0)
        {
            Errors.ThrowLast("ppoll");
        }

        if (n > 0)
        {
            Collect(ready);
        }
    }

    // A handler without a busy-poll callback can only be seen through the syscall (QEMU: aio_poll_disabled).
    public bool NeedWait() => _table.WithoutPoll > 0;

    public void OuterPrepare()
    {
    }

    public bool OuterCheck()
    {
        // The outer loop polled the very fds in OuterFds; ask again without sleeping to get their revents.
        Rebuild();
        return Libc.PPollArray(_pfds, _count, 0) > 0;
    }

    public void OuterCollect(ReadyCollector ready)
    {
        Rebuild();
        if (Libc.PPollArray(_pfds, _count, 0) > 0)
        {
            Collect(ready);
        }
    }

    public void Dispose()
    {
    }

    private void Collect(ReadyCollector ready)
    {
        for (int i = 0; i < _count; i++)
        {
            short revents = _pfds[i].REvents;
            if (revents == 0)
            {
                continue;
            }

            var handler = _handlers[i];
            if ((revents & Libc.POLLNVAL) != 0)
            {
                // Closed behind our back: ppoll would report it forever and spin the loop.
                _onInvalidFd(handler);
                continue;
            }

            ready.Add(handler, (PollEvents)revents);
        }
    }

    private void Rebuild()
    {
        if (_builtVersion == _table.Version)
        {
            return;
        }

        lock (_table.Sync)
        {
            _builtVersion = _table.Version;
            _table.CopyTo(_scratch);
        }

        _count = _scratch.Count;
        if (_pfds.Length < _count)
        {
            int size = Math.Max(_count, _pfds.Length * 2);
            _pfds = new NativePollFd[size];
            _handlers = new AioHandler[size];
        }

        for (int i = 0; i < _count; i++)
        {
            var h = _scratch[i];
            _pfds[i] = new NativePollFd { Fd = h.Fd, Events = (short)h.Events };
            _handlers[i] = h;
        }

        Array.Clear(_handlers, _count, _handlers.Length - _count);
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
