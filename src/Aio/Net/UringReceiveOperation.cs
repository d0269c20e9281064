using System.Buffers;
using Aio.Async;
using Aio.Interop;
using Aio.Uring;

namespace Aio.Net;

/// <summary>
/// Receives on the ring. Where the kernel allows it (6.0+, and a provided-buffer ring: 5.19+) one multishot RECV stays
/// armed per socket and fills the loop's shared buffers; a reader copies from them, so the user's memory is written
/// only while its receive is pending, on the loop, and never by the kernel. Otherwise each receive is one RECV into
/// the user's pinned memory.
/// </summary>
/// <remarks>
/// <para><b>Backpressure.</b> While nobody reads, received buffers queue on the socket; past
/// <see cref="MaxQueuedBuffers"/> the multishot RECV is cancelled, and re-armed when a reader has caught up.</para>
/// <para><b>Buffer exhaustion.</b> When the shared ring runs dry the kernel ends the multishot RECV with -ENOBUFS. A
/// pending reader with nothing queued then gets a single RECV into its own memory, so one busy socket can never starve
/// another; the multishot RECV is re-armed with the next receive.</para>
/// <para><b>Cancellation.</b> With multishot, cancelling a receive is a user-space matter: it ends with
/// <see cref="OperationCanceledException"/> and data that arrives later stays queued for the next receive. A single
/// RECV is cancelled in the kernel; if it completed with data first, the data wins. Either way no byte is lost or
/// delivered twice.</para>
/// <para>Never are a multishot and a single RECV armed together, which keeps the bytes in order.</para>
/// </remarks>
internal sealed class UringReceiveOperation : ReceiveOperation, IKernelRequestOwner
{
    /// <summary>Buffers a socket may hold unread before its multishot receive is stopped.</summary>
    public const int MaxQueuedBuffers = 16;

    /// <summary>
    /// While data streams in (completions fill whole buffers), a receive into at least this much memory goes straight
    /// into it with a single RECV: one copy less per byte, which is what bulk transfers are bound by.
    /// </summary>
    public const int DirectReceiveMinimum = 64 * 1024;

    private static readonly SqePreparer<UringReceiveOperation> s_prepareMultishot = static (ref Sqe sqe, UringReceiveOperation op) => op.PrepareMultishot(ref sqe);
    private static readonly SqePreparer<UringReceiveOperation> s_prepareSingle = static (ref Sqe sqe, UringReceiveOperation op) => op.PrepareSingle(ref sqe);

    private readonly KernelRequest _multishot;
    private readonly KernelRequest _single;
    private readonly ReceiveQueue _queue = new();
    private BufferRing? _buffers;
    private MemoryHandle _pin;
    private nint _pinnedAddress;
    private int _pinnedLength;

    // What _pin pins: kept for good if the kernel may still write it after an abandon (KernelHeldMemory).
    private Memory<byte> _pinnedMemory;
    private Exception? _closeReason;
    private int _errno;
    private bool _endOfStream;
    private bool _multishotConfirmed;
    private bool _starved;
    private bool _streaming;

    public UringReceiveOperation(AioSocket socket)
        : base(socket)
    {
        _multishot = new KernelRequest(this, socket.Context);
        _single = new KernelRequest(this, socket.Context);
    }

    public override bool KernelIdle => !_multishot.InFlight && !_single.InFlight;

    // A single RECV reads into the caller's buffer; a multishot one into the loop's provided buffers.
    protected override bool KernelHoldsCallerMemory => _single.InFlight;

    /// <summary>Buffers this socket holds unread (for tests).</summary>
    internal int QueuedBuffers => _queue.Count;

    /// <summary>The buffer ring this socket's multishot RECV draws from, once armed (for tests).</summary>
    internal BufferRing? BufferRing => _buffers;

    /// <summary>The multishot RECV is in flight (for tests).</summary>
    internal bool MultishotArmed => _multishot.InFlight;

    public override void BeginClose(Exception reason)
    {
        _closeReason = reason;
        _multishot.Cancel();
        _single.Cancel();
        if (IsPending && !_single.InFlight)
        {
            DeliverError(reason);
        }
    }

    public override bool HoldsUnreadData => !_queue.IsEmpty;

    public override void Release()
    {
        while (!_queue.IsEmpty)
        {
            _buffers!.Recycle(_queue.Peek().Id);
            _queue.Dequeue();
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
            DeliverError(_closeReason);
            return;
        }

        if (TryDeliver())
        {
            return;
        }

        // A new reader may try the shared buffers again.
        _starved = false;
        Arm();
    }

    protected override void CancelPending()
    {
        if (_single.InFlight)
        {
            // The kernel decides: its completion carries either data (kept) or -ECANCELED.
            _single.Cancel();
            return;
        }

        DeliverCancelled();
    }

    public void OnKernelCompletion(KernelRequest request, in Cqe cqe)
    {
        if (request == _single)
        {
            OnSingleCompletion(cqe.Result);
        }
        else
        {
            OnMultishotCompletion(in cqe);
        }

        if (_closeReason is not null)
        {
            Socket.TryFinishClose();
        }
    }

    public void OnKernelAbandoned(KernelRequest request, bool kernelReleased)
    {
        if (request == _single && kernelReleased)
        {
            Unpin();
        }
        else if (request == _single)
        {
            // The kernel may still write into the user's memory: it stays pinned, and reachable, for good.
            KernelHeldMemory.Keep(_pinnedMemory);
            _pin = default;
            _pinnedMemory = default;
        }
        else if (!kernelReleased)
        {
            Context.NetLoop.KernelMayStillWrite();
        }

        if (IsPending)
        {
            DeliverError(new ObjectDisposedException(nameof(AioContext), "The socket's AioContext was disposed with the receive in flight."));
        }

        if (_closeReason is not null)
        {
            // A close waiting for this request's completion: the teardown ended it instead.
            Socket.TryFinishClose();
        }
    }

    private void Arm()
    {
        var net = Context.NetLoop;
        if (!_multishot.InFlight && !_single.InFlight && _streaming && Buffer.Length >= DirectReceiveMinimum)
        {
            ArmSingle();
            return;
        }

        if (!_multishot.InFlight && !_single.InFlight && !_starved && net.MultishotReceive && CurrentBuffers(net) is not null)
        {
            if (!_multishot.Submit(s_prepareMultishot, this))
            {
                RetryLater();
            }

            return;
        }

        if (!_multishot.InFlight && !_single.InFlight)
        {
            ArmSingle();
        }

        // Otherwise a request is armed already: its completion serves the pending receive.
    }

    /// <summary>
    /// The loop's buffer ring for a new multishot RECV, or null. The socket keeps the ring its queued buffers came
    /// from until they are all read: after an outer loop swapped the context's ring (and with it the buffer ring) a
    /// socket still holding old buffers uses single receives until its queue drains.
    /// </summary>
    private BufferRing? CurrentBuffers(NetLoop net)
    {
        var current = net.Buffers;
        if (_buffers != current && _queue.IsEmpty)
        {
            _buffers = current;
        }

        return _buffers == current ? current : null;
    }

    private void ArmSingle()
    {
        try
        {
            _pin = Buffer.Pin();
        }
        catch (Exception ex)
        {
            // The caller's memory is gone (a disposed AlignedBuffer, an unmapped window): the receive fails with why,
            // as a send whose memory cannot be pinned does, instead of escaping to the loop and staying pending.
            DeliverError(ex);
            return;
        }

        _pinnedAddress = _pin.Address();
        _pinnedLength = Buffer.Length;
        _pinnedMemory = Buffer;
        if (!_single.Submit(s_prepareSingle, this))
        {
            Unpin();
            RetryLater();
        }
    }

    private void PrepareMultishot(ref Sqe sqe)
    {
        sqe.PrepRecv(Socket.Fd, 0, 0, 0);
        sqe.IoPriority = IoUringNetConstants.RecvMultishot;
        sqe.Flags = SqeFlags.BufferSelect;
        sqe.BufferIndex = _buffers!.GroupId;
    }

    private void PrepareSingle(ref Sqe sqe)
    {
        if (_pinnedLength == 0)
        {
            // A zero-byte receive waits for data without consuming any (what Kestrel's idle connections do).
            sqe.PrepPollAdd(Socket.Fd, PollEvents.In);
            return;
        }

        sqe.PrepRecv(Socket.Fd, _pinnedAddress, (uint)_pinnedLength, Context.SocketIoDontWait ? Libc.MSG_DONTWAIT : 0);
    }

    private void OnSingleCompletion(int result)
    {
        bool wasPoll = _pinnedLength == 0;
        _streaming = result > 0 && result == _pinnedLength;
        Unpin();
        if (!IsPending)
        {
            return;
        }

        if (result >= 0)
        {
            // Data beats a cancellation that came too late: it was received, so it is delivered.
            Deliver(wasPoll ? 0 : result);
        }
        else if (_closeReason is not null)
        {
            DeliverError(_closeReason);
        }
        else if (result == -Errno.ECANCELED)
        {
            DeliverCancelled();
        }
        else if (result == -Errno.EAGAIN)
        {
            // The kernel polled once already and the retry found nothing again: it hands the EAGAIN back instead of
            // polling twice. Nothing was received; a new request polls afresh, unless the caller gave up meanwhile
            // (its cancel went to the request that just ended).
            if (Token.IsCancellationRequested)
            {
                DeliverCancelled();
            }
            else
            {
                Arm();
            }
        }
        else
        {
            DeliverError(SocketErrors.Exception(-result));
        }
    }

    private void OnMultishotCompletion(in Cqe cqe)
    {
        int result = cqe.Result;
        if (result > 0 && (cqe.Flags & IoUringConstants.CqeFBuffer) != 0)
        {
            _multishotConfirmed = true;
            _streaming = result == _buffers!.BufferSize;
            _buffers.Taken();
            _queue.Enqueue((ushort)(cqe.Flags >> IoUringNetConstants.CqeBufferShift), result);
        }
        else if (result == 0)
        {
            _endOfStream = true;
        }
        else if (result == -Errno.EINVAL && !_multishotConfirmed)
        {
            // This kernel has the buffer ring but not multishot RECV (5.19): single receives from now on.
            Context.NetLoop.MultishotReceive = false;
        }
        else if (result == -105)
        {
            // -ENOBUFS: the shared ring ran dry. Until the next receive, this socket reads into the reader's memory.
            _starved = true;
        }
        else if (result < 0 && result != -Errno.ECANCELED && result != -Errno.EAGAIN)
        {
            // (EAGAIN: the kernel gave up polling for this multishot request; it ended, and is armed again below.)
            _errno = -result;
        }

        if (_closeReason is not null)
        {
            return;
        }

        if (IsPending && !_single.InFlight && !TryDeliver() && !_multishot.InFlight)
        {
            // Stopped (ran dry, cancelled for backpressure, or not supported) with a reader waiting for data.
            Arm();
        }
        else if (_multishot.InFlight && !IsPending && _queue.Count >= MaxQueuedBuffers)
        {
            // Nobody reads: stop receiving until a reader catches up.
            _multishot.Cancel();
        }
    }

    /// <summary>Completes the pending receive from what is queued (or the end of stream or an error); false if it must wait.</summary>
    private bool TryDeliver()
    {
        if (!_queue.IsEmpty)
        {
            if (Buffer.Length == 0)
            {
                Deliver(0);
                return true;
            }

            Span<byte> destination;
            try
            {
                destination = Buffer.Span;
            }
            catch (Exception ex)
            {
                // As in ArmSingle; the queued data stays for the next receive.
                DeliverError(ex);
                return true;
            }

            Deliver(CopyQueued(destination));
            return true;
        }

        if (_errno != 0)
        {
            // Reported once, as the kernel reports sk_err once: the next receive asks the kernel again (and gets the
            // end of the stream after a reset), as the single receive and the readiness path do.
            int errno = _errno;
            _errno = 0;
            DeliverError(SocketErrors.Exception(errno));
            return true;
        }

        if (_endOfStream)
        {
            Deliver(0);
            return true;
        }

        return false;
    }

    private int CopyQueued(Span<byte> destination)
    {
        int copied = 0;
        while (!_queue.IsEmpty && copied < destination.Length)
        {
            ref var entry = ref _queue.Peek();
            int n = Math.Min(entry.Length, destination.Length - copied);
            _buffers!.Buffer(entry.Id, entry.Offset + n)[entry.Offset..].CopyTo(destination[copied..]);
            copied += n;
            entry.Offset += n;
            entry.Length -= n;
            if (entry.Length == 0)
            {
                _buffers.Recycle(entry.Id);
                _queue.Dequeue();
            }
        }

        return copied;
    }

    private void Unpin()
    {
        _pin.Dispose();
        _pin = default;
        _pinnedAddress = 0;
        _pinnedLength = 0;
        _pinnedMemory = default;
    }
}
