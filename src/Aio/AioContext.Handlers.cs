using Aio.Diagnostics;
using Aio.Interop;
using Aio.Monitors;

namespace Aio;

// fd handler registration (the poll(2) → epoll switch is in AioContext.MonitorSelection.cs).
public sealed partial class AioContext
{
    /// <summary>
    /// Registers, replaces or (both callbacks null) removes the handlers of <paramref name="fd"/>. Level-triggered:
    /// <paramref name="onReadable"/> runs while the fd is readable, <paramref name="onWritable"/> while writable.
    /// <paramref name="poll"/> is the busy-poll check of adaptive polling; when it sees work, <paramref name="pollReady"/>
    /// runs instead of <paramref name="onReadable"/>. Any thread.
    /// </summary>
    /// <remarks>
    /// On the home thread, a removed handler is never called after this returns. From another thread, a callback that
    /// the loop has already started may still be running.
    /// </remarks>
    /// <exception cref="AioException">The fd is negative or not open (EBADF), or the monitor refuses it.</exception>
    /// <exception cref="ArgumentException"><paramref name="fd"/> is the context's own notifier.</exception>
    public void SetFdHandler(int fd, Action? onReadable, Action? onWritable, Func<bool>? poll = null, Action? pollReady = null)
    {
        ThrowIfDisposed();
        bool remove = onReadable is null && onWritable is null;
        if (remove && fd < 0)
        {
            return;
        }

        if (!remove && !Libc.IsValidFd(fd))
        {
            throw new AioException(Errno.EBADF, $"SetFdHandler({fd})");
        }

        if (fd == _notifier.Fd)
        {
            throw new ArgumentException($"fd {fd} is the context's own notifier.", nameof(fd));
        }

        var handler = remove ? null : new AioHandler(fd, onReadable, onWritable, poll, pollReady);
        string? epollRefused = null;
        lock (_handlers.Sync)
        {
            ThrowIfDisposed();
            var old = _handlers.Find(fd);
            if (old is null && handler is null)
            {
                return;
            }

            try
            {
                _monitor.Update(fd, old, handler);
            }
            catch (AioException ex) when (_autoMonitor && _monitor.Kind == FdMonitorKind.Epoll && handler is not null)
            {
                // An fd epoll cannot watch (a regular file: EPERM). poll(2) can; drop back to it for good, on the
                // home thread (it may be inside epoll_wait right now).
                _epollDisabled = true;
                _switchToPoll = true;
                epollRefused = ex.Message;
            }

            _handlers.Swap(fd, handler);
        }

        if (epollRefused is not null)
        {
            // Outside the lock: the warning reaches the context's Warning subscribers, whose code must not run while
            // the handler table is locked (one that registered an fd would nest inside this registration).
            AioEventSource.Log.MonitorFallback(this, "epoll", "poll", epollRefused);
        }

        // The loop may be asleep on the old set (poll(2) copies it; io_uring queues the change): wake it.
        NotifyWork();
    }

    /// <summary>Same as <c>SetFdHandler(fd, null, null)</c>.</summary>
    public void RemoveFdHandler(int fd) => SetFdHandler(fd, null, null);

    /// <summary>
    /// Registers <paramref name="onSet"/> to run when <paramref name="notifier"/> is set (null removes it), with optional
    /// busy-poll callbacks. The handler should clear the notifier (<see cref="EventNotifier.TestAndClear"/>).
    /// </summary>
    public void SetEventNotifier(EventNotifier notifier, Action<EventNotifier>? onSet, Func<EventNotifier, bool>? poll = null, Action<EventNotifier>? pollReady = null)
    {
        ArgumentNullException.ThrowIfNull(notifier);
        if (onSet is null)
        {
            RemoveFdHandler(notifier.Fd);
            return;
        }

        SetFdHandler(
            notifier.Fd,
            () => onSet(notifier),
            null,
            poll is null ? null : () => poll(notifier),
            pollReady is null ? null : () => pollReady(notifier));
    }
}
