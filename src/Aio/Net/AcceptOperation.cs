using Aio.Interop;
using Aio.Uring;

namespace Aio.Net;

/// <summary>
/// The accept side of an <see cref="AioListener"/>; its result is the new connection's fd. On the ring one multishot
/// ACCEPT (5.19+; single ACCEPTs before) stays armed and queues connections that arrive before anyone asks, up to the
/// backlog, after which it is cancelled until the queue drains; without io_uring, accept4(2) on readability.
/// </summary>
internal sealed class AcceptOperation : SocketOperation, IKernelRequestOwner
{
    private static readonly SqePreparer<AcceptOperation> s_prepare = static (ref Sqe sqe, AcceptOperation op) => op.Prepare(ref sqe);

    private readonly AioListener _listener;
    private readonly KernelRequest _request;
    // Filled by the loop; taken by the loop or, without a hop, by AcceptAsync on any thread (TryTakeQueued).
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _accepted = new();
    private readonly Action _onReadable;
    private readonly int _backlog;
    private Exception? _closeReason;
    private int _closing;
    private bool _multishot;
    private bool _confirmed;

    public AcceptOperation(AioListener listener, int backlog)
        : base(listener.Context, "accept")
    {
        _listener = listener;
        _backlog = backlog;
        _request = new KernelRequest(this, listener.Context);
        _onReadable = OnReadable;
    }

    public bool KernelIdle => !_request.InFlight;

    /// <summary>Connections accepted by the kernel that nobody took yet (for tests).</summary>
    internal int Queued => _accepted.Count;

    /// <summary>
    /// Any thread: a connection the multishot ACCEPT already queued, taken without a hop to the loop (a server whose
    /// accept loop runs elsewhere, such as Kestrel's on the thread pool, then pays no loop round trip per connection
    /// while connections arrive faster than it accepts). False when none is queued or the listener is closing.
    /// </summary>
    public bool TryTakeQueued(out int fd)
    {
        if (Volatile.Read(ref _closing) == 0 && _accepted.TryDequeue(out fd))
        {
            return true;
        }

        fd = -1;
        return false;
    }

    /// <summary>Starts an accept. Any thread.</summary>
    public ValueTask<int> Accept(CancellationToken ct)
    {
        Begin(ct, "accept");
        short version = Version;
        Dispatch();
        return new ValueTask<int>(this, version);
    }

    /// <summary>Loop thread: the listener is closing.</summary>
    public void BeginClose(Exception reason)
    {
        _closeReason = reason;
        Volatile.Write(ref _closing, 1);
        _request.Cancel();
        if (!Context.SocketsUseRing)
        {
            _listener.Readiness.ClearRead();
        }

        if (IsPending)
        {
            Fail(reason);
        }
    }

    /// <summary>Loop thread, once the kernel is idle: closes the connections nobody accepted.</summary>
    public void Release()
    {
        while (_accepted.TryDequeue(out int fd))
        {
            Libc.CloseQuietly(fd);
        }
    }

    protected override void StartOnLoop()
    {
        if (!IsPending)
        {
            return;
        }

        if (_closeReason is not null)
        {
            Fail(_closeReason);
            return;
        }

        if (_accepted.TryDequeue(out int fd))
        {
            Complete(fd);
            return;
        }

        if (!Context.SocketsUseRing)
        {
            TryAccept();
        }
        else if (!_request.InFlight)
        {
            _multishot = Context.NetLoop.MultishotAccept;
            if (!_request.Submit(s_prepare, this))
            {
                RetryLater();
            }
        }
    }

    protected override void CancelPending()
    {
        if (!Context.SocketsUseRing)
        {
            _listener.Readiness.ClearRead();
        }
        else if (!_multishot)
        {
            // A single ACCEPT would take a connection nobody waits for any more; a multishot one queues it.
            _request.Cancel();
            return;
        }

        FailCancelled();
    }

    public void OnKernelCompletion(KernelRequest request, in Cqe cqe)
    {
        int result = cqe.Result;
        if (result >= 0)
        {
            _confirmed = true;
            if (_closeReason is not null)
            {
                Libc.CloseQuietly(result);
            }
            else if (IsPending)
            {
                Complete(result);
            }
            else
            {
                _accepted.Enqueue(result);
            }
        }
        else if (result == -Errno.EINVAL && _multishot && !_confirmed)
        {
            // No multishot ACCEPT on this kernel (before 5.19): single ones from now on.
            Context.NetLoop.MultishotAccept = false;
        }
        else if (result == -Errno.ECANCELED && IsPending && _closeReason is null && !_multishot && Token.IsCancellationRequested)
        {
            // Only a single ACCEPT is cancelled for the caller's token; a multishot one is cancelled for backpressure,
            // and a pending accept then simply re-arms it below.
            FailCancelled();
        }
        else if (result < 0 && result != -Errno.ECANCELED && result != -103 && IsPending)   // ECONNABORTED: try the next one
        {
            Fail(SocketErrors.Exception(-result));
        }

        if (_closeReason is not null)
        {
            _listener.TryFinishClose();
            return;
        }

        if (_request.InFlight && _accepted.Count >= _backlog)
        {
            // Nobody accepts: leave further connections in the kernel's backlog.
            _request.Cancel();
        }
        else if (!_request.InFlight && IsPending)
        {
            if (Token.IsCancellationRequested)
            {
                // The caller's cancel went to the request that just ended (a single ACCEPT that met ECONNABORTED, say):
                // it found nothing to cancel, and a fresh ACCEPT would keep the cancelled accept waiting.
                FailCancelled();
                return;
            }

            _multishot = Context.NetLoop.MultishotAccept;
            if (!_request.Submit(s_prepare, this))
            {
                RetryLater();
            }
        }
    }

    public void OnKernelAbandonedCompletion(KernelRequest request, in Cqe cqe)
    {
        if (cqe.Result >= 0)
        {
            // A connection accepted while the context was being disposed: nobody will take it.
            Libc.CloseQuietly(cqe.Result);
        }
    }

    public void OnKernelAbandoned(KernelRequest request, bool kernelReleased)
    {
        if (IsPending)
        {
            Fail(new ObjectDisposedException(nameof(AioContext), "The listener's AioContext was disposed with the accept in flight."));
        }

        if (_closeReason is not null)
        {
            // A close waiting for this request's completion: the teardown ended it instead.
            _listener.TryFinishClose();
        }
    }

    private void Prepare(ref Sqe sqe)
    {
        sqe.PrepAccept(_listener.Fd, 0, 0, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
        if (_multishot)
        {
            sqe.IoPriority = IoUringNetConstants.AcceptMultishot;
        }
    }

    private void OnReadable()
    {
        if (!IsPending || _closeReason is not null)
        {
            _listener.Readiness.ClearRead();
            return;
        }

        TryAccept();
    }

    private void TryAccept()
    {
        while (true)
        {
            int result = Libc.AcceptNonBlocking(_listener.Fd);
            if (result >= 0)
            {
                _listener.Readiness.ClearRead();
                Complete(result);
                return;
            }

            if (result == -Errno.EAGAIN)
            {
                _listener.Readiness.WantRead(_onReadable);
                return;
            }

            if (result != -Errno.EINTR && result != -103)
            {
                _listener.Readiness.ClearRead();
                Fail(SocketErrors.Exception(-result));
                return;
            }
        }
    }
}
