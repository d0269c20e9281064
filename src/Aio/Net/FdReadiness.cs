namespace Aio.Net;

/// <summary>
/// The fallback path's view of one socket fd (no io_uring): which of its operations wait for readability and
/// writability, kept registered as one fd handler. Interest is dropped as soon as nobody waits, because fd handlers
/// are level-triggered: a socket left registered for writability would call back on every iteration. Loop thread.
/// While registered it is known to the loop's <see cref="NetLoop"/>, so that a context disposed under its sockets can
/// end the operations that wait for a readiness that will never come (the ring path ends its own by cancelling).
/// </summary>
internal sealed class FdReadiness
{
    private readonly AioContext _context;
    private readonly int _fd;
    private readonly Action<Exception> _onContextDisposed;
    private Action? _onReadable;
    private Action? _onWritable;
    private bool _registered;

    /// <param name="context">The socket's loop.</param>
    /// <param name="fd">The socket.</param>
    /// <param name="onContextDisposed">Ends the socket's waiting operations with the given error.</param>
    public FdReadiness(AioContext context, int fd, Action<Exception> onContextDisposed)
    {
        _context = context;
        _fd = fd;
        _onContextDisposed = onContextDisposed;
    }

    /// <summary>
    /// The context is being disposed (its fd handlers are gone already): the operations waiting here end with
    /// <see cref="ObjectDisposedException"/>. Called by <see cref="NetLoop.Dispose"/>, with the loop stopped.
    /// </summary>
    public void OnContextDisposed()
    {
        _registered = false;
        _onReadable = null;
        _onWritable = null;
        _onContextDisposed(new ObjectDisposedException(nameof(AioContext), "The socket's AioContext was disposed with the operation pending."));
    }

    /// <summary>Calls <paramref name="callback"/> (once per readiness, until cleared) while the fd is readable.</summary>
    public void WantRead(Action callback)
    {
        if (_onReadable != callback)
        {
            _onReadable = callback;
            Apply();
        }
    }

    /// <summary>Calls <paramref name="callback"/> while the fd is writable.</summary>
    public void WantWrite(Action callback)
    {
        if (_onWritable != callback)
        {
            _onWritable = callback;
            Apply();
        }
    }

    public void ClearRead()
    {
        if (_onReadable is not null)
        {
            _onReadable = null;
            Apply();
        }
    }

    public void ClearWrite()
    {
        if (_onWritable is not null)
        {
            _onWritable = null;
            Apply();
        }
    }

    /// <summary>Forgets the fd (before it is closed).</summary>
    public void Remove()
    {
        _onReadable = null;
        _onWritable = null;
        Apply();
    }

    private void Apply()
    {
        if (_onReadable is null && _onWritable is null)
        {
            if (_registered)
            {
                _registered = false;
                _context.NetLoop.Forget(this);
                try
                {
                    _context.RemoveFdHandler(_fd);
                }
                catch (ObjectDisposedException)
                {
                    // The context went first: it dropped every handler itself.
                }
            }

            return;
        }

        _context.SetFdHandler(_fd, _onReadable, _onWritable);
        if (!_registered)
        {
            _registered = true;
            _context.NetLoop.Watch(this);
        }
    }
}
