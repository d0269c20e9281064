using Aio.Interop;

namespace Aio;

/// <summary>An eventfd (QEMU <c>EventNotifier</c>): a counter that is readable while non-zero.</summary>
public sealed class EventNotifier : IDisposable
{
    private int _fd;

    /// <summary>Creates a non-blocking, close-on-exec eventfd. Throws <see cref="AioException"/> (for example EMFILE).</summary>
    public EventNotifier()
    {
        _fd = Errors.Check(Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC), "eventfd");
    }

    /// <summary>The eventfd; -1 after <see cref="Dispose"/>.</summary>
    public int Fd => _fd;

    /// <summary>Makes the notifier readable. Any thread; setting an already set notifier is harmless.</summary>
    public void Set()
    {
        int fd = Volatile.Read(ref _fd);
        ObjectDisposedException.ThrowIf(fd < 0, this);
        if (Libc.EventFdWrite(fd, 1) < 0)
        {
            int errno = Errors.LastErrno;

            // EAGAIN: the counter is at its maximum, so the notifier is set already.
            if (errno != Errno.EAGAIN)
            {
                Errors.Throw(errno, "write(eventfd)");
            }
        }
    }

    /// <summary>Reads and resets the counter; true if it was set.</summary>
    public bool TestAndClear()
    {
        int fd = Volatile.Read(ref _fd);
        ObjectDisposedException.ThrowIf(fd < 0, this);
        if (Libc.EventFdRead(fd, out _) == sizeof(ulong))
        {
            return true;
        }

        int errno = Errors.LastErrno;
        if (errno != Errno.EAGAIN)
        {
            Errors.Throw(errno, "read(eventfd)");
        }

        return false;
    }

    /// <summary>Closes the eventfd. Safe to call twice.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        Libc.CloseQuietly(fd);
    }
}
