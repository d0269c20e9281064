using Aio.Interop;

namespace Aio;

/// <summary>An eventfd (QEMU <c>EventNotifier</c>): a counter that is readable while non-zero.</summary>
/// <remarks>
/// Set and TestAndClear may race Dispose from other threads: each holds a reference on the descriptor for the length of
/// its syscall, so Dispose closes it only after them, and never while a syscall could reach a new file that reused the
/// number.
/// </remarks>
public sealed class EventNotifier : IDisposable
{
    private readonly SafeFdHandle _handle;
    private int _fd;

    /// <summary>Creates a non-blocking, close-on-exec eventfd. Throws <see cref="AioException"/> (for example EMFILE).</summary>
    public EventNotifier()
    {
        int fd = Errors.Check(Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC), "eventfd");
        _handle = new SafeFdHandle(fd);
        _fd = fd;
    }

    /// <summary>The eventfd; -1 after <see cref="Dispose"/>.</summary>
    public int Fd => Volatile.Read(ref _fd);

    /// <summary>Makes the notifier readable. Any thread; setting an already set notifier is harmless.</summary>
    /// <exception cref="ObjectDisposedException">The notifier was disposed.</exception>
    public void Set()
    {
        bool added = false;
        try
        {
            AddRef(ref added);
            if (Libc.EventFdWrite(_handle.Fd, 1) < 0)
            {
                int errno = Errors.LastErrno;

                // EAGAIN: the counter is at its maximum, so the notifier is set already.
                if (errno != Errno.EAGAIN)
                {
                    Errors.Throw(errno, "write(eventfd)");
                }
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>Reads and resets the counter; true if it was set.</summary>
    /// <exception cref="ObjectDisposedException">The notifier was disposed.</exception>
    public bool TestAndClear()
    {
        bool added = false;
        try
        {
            AddRef(ref added);
            if (Libc.EventFdRead(_handle.Fd, out _) == sizeof(ulong))
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
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>Closes the eventfd (once no Set or TestAndClear is inside its syscall). Safe to call twice.</summary>
    public void Dispose()
    {
        Volatile.Write(ref _fd, -1);
        _handle.Dispose();
    }

    private void AddRef(ref bool added)
    {
        if (_handle.IsClosed)
        {
            ObjectDisposedException.ThrowIf(true, this);
        }

        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check and the add-ref: the same outcome, named after this type.
            ObjectDisposedException.ThrowIf(true, this);
        }
    }
}
