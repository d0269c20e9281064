using Aio.Diagnostics;
using Aio.Monitors;
using Aio.Uring;

namespace Aio;

// Which monitor a context uses, and when it changes (QEMU aio_context_setup and the poll/epoll switch), in one
// place. io_uring first; if its setup fails, poll(2), which becomes epoll past EpollThreshold fds and
// goes back to poll(2) for good when epoll fails. All or none: once one live context has io_uring, a context that
// cannot get it fails instead of falling back, so that AddSqe availability is the same for every context.
// The rest of the context talks to the monitor only through IFdMonitor (and its request side).
public sealed partial class AioContext
{
    /// <summary>Registered fds from which an automatically chosen poll(2) monitor becomes epoll.</summary>
    private const int EpollThreshold = 64;

    private static int s_liveIoUringContexts;

    private IFdMonitor CreateMonitor(AioContextOptions options)
    {
        switch (options.Monitor)
        {
            case FdMonitorKind.Poll:
                return new PollMonitor(_handlers, OnInvalidFd);
            case FdMonitorKind.Epoll:
                return NewEpollMonitor();
            case FdMonitorKind.IoUring:
                return CreateIoUringMonitor(options, explicitRequest: true)!;
            default:
                return CreateIoUringMonitor(options, explicitRequest: false) ?? new PollMonitor(_handlers, OnInvalidFd);
        }
    }

    private IFdMonitor? CreateIoUringMonitor(AioContextOptions options, bool explicitRequest)
    {
        Ring? ring = null;
        AioException? failure = null;
        if (options.SimulatedIoUringErrno != 0)
        {
            failure = new AioException(options.SimulatedIoUringErrno, "io_uring_setup (simulated)");
        }
        else
        {
            try
            {
                // The tier an outer loop needs (IoUringMonitor.PrepareForOuterLoop): a thread asleep in the outer
                // loop's poll(2) is woken by COOP_TASKRUN completions, not by DEFER_TASKRUN ones.
                uint forbidden = options.ForbiddenRingFlags | (options.OuterLoop ? IoUringMonitor.OuterLoopForbiddenFlags : 0);
                ring = Ring.Create(new RingOptions { Entries = (uint)options.RingEntries, ForbiddenFlags = forbidden });
                foreach (var opcode in options.SimulatedMissingOpcodes)
                {
                    ring.Forget(opcode);
                }
            }
            catch (AioException ex)
            {
                failure = ex;
            }
        }

        if (ring is not null)
        {
            Interlocked.Increment(ref s_liveIoUringContexts);
            var monitor = new IoUringMonitor(ring, OnInvalidFd, _completions) { CancelStrategy = options.DisposeCancel, RegisterRingFd = options.RegisterRingFd };
            _disposeTimeout = options.DisposeTimeout;
            return monitor;
        }

        if (explicitRequest)
        {
            throw new AioException($"AioContext '{Name}': the io_uring monitor was requested but {failure!.Message}", failure.Errno, failure);
        }

        // All or none: AddSqe availability must not depend on which context code happens to get.
        // The simulated failure of the tests is exempt so that they can run beside real io_uring contexts.
        if (options.SimulatedIoUringErrno == 0 && Volatile.Read(ref s_liveIoUringContexts) > 0)
        {
            throw new AioException(
                $"AioContext '{Name}': {failure!.Message}, but another live AioContext in this process uses io_uring; " +
                "contexts are all io_uring or none, so that AddSqe availability is uniform.",
                failure.Errno,
                failure);
        }

        AioEventSource.Log.MonitorFallback(this, "io_uring", "poll", failure!.Message);
        return null;
    }

    /// <summary>An epoll monitor that reports fds closed behind its back through <see cref="OnInvalidFd"/>.</summary>
    private EpollMonitor NewEpollMonitor() => new(_handlers, OnInvalidFd) { SweepIntervalNs = (long)_epollSweepInterval.TotalNanoseconds };

    /// <summary>The context no longer holds a ring: another context may fall back again.</summary>
    private static void ReleaseIoUringSlot() => Interlocked.Decrement(ref s_liveIoUringContexts);

    /// <summary>
    /// Outermost loop only: poll(2) becomes epoll past <see cref="EpollThreshold"/> fds, and a failed epoll becomes
    /// poll(2) again, for good.
    /// </summary>
    private void MaybeSwitchMonitor()
    {
        if (_switchToPoll)
        {
            _switchToPoll = false;
            IFdMonitor old;
            lock (_handlers.Sync)
            {
                old = _monitor;
                _monitor = new PollMonitor(_handlers, OnInvalidFd);
            }

            old.Dispose();
            AioEventSource.Log.MonitorSelected(Name, nameof(FdMonitorKind.Poll));
            return;
        }

        if (!_autoMonitor || _epollDisabled || _monitor.Kind != FdMonitorKind.Poll || _handlers.Count < EpollThreshold)
        {
            return;
        }

        EpollMonitor? epoll = null;
        try
        {
            epoll = NewEpollMonitor();
            IFdMonitor old;
            lock (_handlers.Sync)
            {
                var all = new List<AioHandler>();
                _handlers.CopyTo(all);
                foreach (var h in all)
                {
                    epoll.Update(h.Fd, null, h);
                }

                old = _monitor;
                _monitor = epoll;
            }

            old.Dispose();
            AioEventSource.Log.MonitorSelected(Name, nameof(FdMonitorKind.Epoll));
        }
        catch (AioException ex)
        {
            epoll?.Dispose();
            _epollDisabled = true;
            AioEventSource.Log.MonitorFallback(this, "epoll", "poll", ex.Message);
        }
    }
}
