using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Aio.Interop;
using static Aio.Uring.IoUringConstants;

namespace Aio.Uring;

/// <summary>
/// A managed liburing: one io_uring instance, its mapped queues, and the enter/register calls.
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> Exactly one thread, the owner, may enter the kernel or touch the queues (Jens Axboe on seed
/// 002: "don't have multiple threads do enter on the same ring, ever"). The owner is bound by <see cref="Enable"/>
/// (or the first enter on a ring that was not created disabled); any other thread gets an
/// <see cref="InvalidOperationException"/> before the kernel's EEXIST. Cross-thread work is the caller's job
/// (the io_uring monitor hands it over through a queue).</para>
/// <para><b>Memory ordering.</b> The SQ tail is published with a store-release after the entries are written, and
/// the CQ tail is read with a load-acquire before the entries are read (the kernel pairs these with its own
/// smp_load_acquire/smp_store_release). Heads we own are read plainly and written with release so the kernel
/// never sees a slot freed before we copied it.</para>
/// </remarks>
internal sealed unsafe partial class Ring : IDisposable
{
    /// <summary>user_data of the TIMEOUT entries used to bound waits on kernels without EXT_ARG; never reported.</summary>
    internal const ulong InternalTimeoutUserData = ulong.MaxValue;

    private readonly bool _useExtArg;
    private int _fd;
    private int _registeredIndex = -1;
    private int _ownerThreadId;
    private bool _disabled;

    private byte* _sqRing;
    private byte* _cqRing;
    private Sqe* _sqes;
    private uint _sqRingSize;
    private uint _cqRingSize;
    private uint _sqesSize;

    private uint* _sqHead;
    private uint* _sqTail;
    private uint* _sqFlags;
    private uint* _sqDropped;
    private uint _sqMask;
    private uint _sqEntries;
    private uint _sqeTail;

    private uint* _cqHead;
    private uint* _cqTail;
    private uint* _cqOverflow;
    private uint _cqMask;
    private uint _cqEntries;
    private Cqe* _cqes;

    private readonly bool[] _supportedOps = new bool[256];
    private KernelTimespec _fallbackTimeout;

    private long _enters;
    private long _submitted;
    private long _reaped;

    private Ring(int fd, ref IoUringParams p, RingOptions options)
    {
        _fd = fd;
        Setup = new IoUringSetup(p.Flags, p.Features, (int)p.SqEntries, (int)p.CqEntries);
        _disabled = (p.Flags & SetupRDisabled) != 0;
        _useExtArg = (p.Features & FeatExtArg) != 0 && !options.DisableExtArg;
        Map(ref p);
        Probe();
    }

    /// <summary>What the kernel accepted.</summary>
    public IoUringSetup Setup { get; }

    /// <summary>The ring's file descriptor (what an outer loop polls: readable when completions are posted or task work is pending).</summary>
    public int Fd => _fd;

    /// <summary>True once <see cref="Enable"/> bound an owner (or the ring was never disabled and has entered once).</summary>
    public bool IsBound => _ownerThreadId != 0;

    /// <summary>The managed thread id of the owner, 0 before binding.</summary>
    public int OwnerThreadId => _ownerThreadId;

    /// <summary>The SQ ring's flags word (IORING_SQ_*), read with acquire semantics.</summary>
    public uint SqFlags => Volatile.Read(ref *_sqFlags);

    /// <summary>IORING_SQ_TASKRUN: completions are waiting as task work and appear only after entering the kernel (seed 000).</summary>
    public bool TaskrunPending => (Volatile.Read(ref *_sqFlags) & SqTaskrun) != 0;

    /// <summary>IORING_SQ_CQ_OVERFLOW: completions are held in the kernel's overflow list.</summary>
    public bool CqOverflowPending => (Volatile.Read(ref *_sqFlags) & SqCqOverflow) != 0;

    /// <summary>Entries prepared and not yet consumed by the kernel.</summary>
    public uint SqReady => _sqeTail - Volatile.Read(ref *_sqHead);

    /// <summary>Free submission slots.</summary>
    public uint SqSpaceLeft => _sqEntries - SqReady;

    /// <summary>Completions posted and not yet consumed.</summary>
    public uint CqReady => Volatile.Read(ref *_cqTail) - *_cqHead;

    /// <summary>Completions dropped by kernels without IORING_FEAT_NODROP (the CQ ring's overflow counter).</summary>
    public uint CqOverflowCount => Volatile.Read(ref *_cqOverflow);

    /// <summary>Entries the kernel dropped as invalid (the SQ ring's dropped counter).</summary>
    public uint SqDropped => Volatile.Read(ref *_sqDropped);

    /// <summary>io_uring_enter calls made.</summary>
    public long Enters => Volatile.Read(ref _enters);

    /// <summary>Entries the kernel consumed.</summary>
    public long Submitted => Volatile.Read(ref _submitted);

    /// <summary>Completions consumed (internal timeouts included).</summary>
    public long Reaped => Volatile.Read(ref _reaped);

    /// <summary>Whether the kernel reported <paramref name="opcode"/> as supported (IORING_REGISTER_PROBE, 5.6+).</summary>
    public bool Supports(IoUringOpcode opcode) => _supportedOps[(byte)opcode];

    /// <summary>
    /// Binds the calling thread as the owner. For a ring created with IORING_SETUP_R_DISABLED this is
    /// IORING_REGISTER_ENABLE_RINGS, which makes the caller the single issuer.
    /// </summary>
    public void Enable()
    {
        ThrowIfDisposed();
        int me = Environment.CurrentManagedThreadId;
        if (_ownerThreadId == me)
        {
            return;
        }

        if (_ownerThreadId != 0)
        {
            ThrowWrongThread();
        }

        if (_disabled)
        {
            Errors.Check(Libc.IoUringRegister(_fd, RegisterEnableRings, null, 0), "io_uring_register(ENABLE_RINGS)");
            _disabled = false;
        }

        _ownerThreadId = me;
    }

    /// <summary>
    /// Registers the ring fd with the owner's task (IORING_REGISTER_RING_FDS, 5.18) so that enter skips the fd
    /// table. The registration belongs to the owner thread's task; <see cref="Dispose"/> on another thread cannot undo
    /// it, and the kernel then keeps the ring alive until the owner thread exits. Returns false where unsupported.
    /// </summary>
    public bool RegisterRingFd()
    {
        EnsureOwner();
        if (_registeredIndex >= 0)
        {
            return true;
        }

        var update = new RsrcUpdate { Offset = uint.MaxValue, Data = (ulong)_fd };
        int rc = Libc.IoUringRegister(_fd, RegisterRingFds, &update, 1);
        if (rc != 1)
        {
            return false;
        }

        _registeredIndex = (int)update.Offset;
        return true;
    }

    /// <summary>
    /// The next free submission entry, zeroed. Call <see cref="Submit"/> (or a wait) to hand it to the kernel.
    /// When the queue is full, submits first; throws <see cref="AioException"/> (EBUSY) if the kernel still has no room.
    /// </summary>
    public ref Sqe NextSqe()
    {
        ThrowIfDisposed();
        if (_sqeTail - Volatile.Read(ref *_sqHead) >= _sqEntries)
        {
            Submit();
            if (_sqeTail - Volatile.Read(ref *_sqHead) >= _sqEntries)
            {
                Errors.Throw(Errno.EBUSY, "io_uring submission queue full");
            }
        }

        ref Sqe sqe = ref _sqes[_sqeTail & _sqMask];
        _sqeTail++;
        sqe = default;
        return ref sqe;
    }

    /// <summary>
    /// Submits the prepared entries. Returns how many the kernel consumed, or a negative errno for EAGAIN/EBUSY
    /// ("reap completions, then submit again"); other failures throw. EINTR is retried.
    /// </summary>
    public int Submit() => Enter(0, 0, -1, wait: false);

    /// <summary>
    /// Submits the prepared entries and waits until <paramref name="minComplete"/> completions are posted,
    /// <paramref name="timeoutNs"/> passes (negative: no limit; 0: do not sleep, but run pending task work and flush
    /// overflowed completions), or a signal arrives. Returns as <see cref="Submit"/> does.
    /// </summary>
    public int SubmitAndWait(uint minComplete, long timeoutNs) => Enter(minComplete, 0, timeoutNs, wait: true);

    /// <summary>
    /// Copies out the next completion. Internal TIMEOUT completions are skipped. If the CQ is empty but the kernel
    /// holds overflowed completions, enters once (GETEVENTS) to flush them: with IORING_FEAT_NODROP nothing is lost.
    /// </summary>
    public bool TryGetCqe(out Cqe cqe)
    {
        ThrowIfDisposed();
        while (true)
        {
            uint head = *_cqHead;
            if (head == Volatile.Read(ref *_cqTail))
            {
                if ((Volatile.Read(ref *_sqFlags) & SqCqOverflow) != 0 && _ownerThreadId == Environment.CurrentManagedThreadId)
                {
                    _ = Enter(0, 0, 0, wait: true);
                    if (head != Volatile.Read(ref *_cqTail))
                    {
                        continue;
                    }
                }

                cqe = default;
                return false;
            }

            cqe = _cqes[head & _cqMask];

            // Release: the kernel may reuse the slot only after our copy above.
            Volatile.Write(ref *_cqHead, head + 1);
            _reaped++;
            if (cqe.UserData != InternalTimeoutUserData)
            {
                return true;
            }
        }
    }

    private int Enter(uint minComplete, uint extraFlags, long timeoutNs, bool wait)
    {
        EnsureOwner();
        long deadline = timeoutNs > 0 ? MonotonicClock.Ns + timeoutNs : 0;
        while (true)
        {
            // Publish the local tail (release: entry contents before the tail the kernel reads with acquire).
            Volatile.Write(ref *_sqTail, _sqeTail);
            uint toSubmit = _sqeTail - Volatile.Read(ref *_sqHead);
            uint flags = extraFlags;
            void* arg = null;
            nuint argSize = 0;
            var ts = default(KernelTimespec);
            var ext = default(GetEventsArg);
            if (wait)
            {
                flags |= EnterGetEvents;
                if (timeoutNs >= 0)
                {
                    ts = KernelTimespec.FromNanoseconds(timeoutNs);
                    if (timeoutNs == 0)
                    {
                        minComplete = 0;
                    }
                    else if (_useExtArg)
                    {
                        ext.Ts = (ulong)&ts;
                        flags |= EnterExtArg;
                        arg = &ext;
                        argSize = (nuint)sizeof(GetEventsArg);
                    }
                    else
                    {
                        toSubmit += QueueFallbackTimeout(timeoutNs);
                    }
                }
            }
            else if (toSubmit == 0)
            {
                return 0;
            }

            int fd = _fd;
            if (_registeredIndex >= 0)
            {
                fd = _registeredIndex;
                flags |= EnterRegisteredRing;
            }

            _enters++;
            int rc = Libc.IoUringEnter(fd, toSubmit, minComplete, flags, arg, argSize);
            if (rc >= 0)
            {
                _submitted += rc;
                return rc;
            }

            int errno = Errors.LastErrno;
            switch (errno)
            {
                case Errno.ETIME:
                    // The wait timed out (EXT_ARG); entries were still submitted, so count them from the head.
                    return 0;
                case Errno.EINTR:
                    if (!wait || timeoutNs == 0)
                    {
                        continue;
                    }

                    if (timeoutNs > 0)
                    {
                        timeoutNs = deadline - (MonotonicClock.Ns);
                        if (timeoutNs <= 0)
                        {
                            return 0;
                        }
                    }

                    continue;
                case Errno.EAGAIN:
                case Errno.EBUSY:
                    return -errno;
                default:
                    Errors.Throw(errno, "io_uring_enter");
                    return -errno;
            }
        }
    }

    private uint QueueFallbackTimeout(long timeoutNs)
    {
        // Kernels before 5.11 have no EXT_ARG: bound the wait with a TIMEOUT entry whose completion TryGetCqe hides.
        if (_sqeTail - Volatile.Read(ref *_sqHead) >= _sqEntries)
        {
            return 0;
        }

        _fallbackTimeout = KernelTimespec.FromNanoseconds(timeoutNs);
        ref Sqe sqe = ref _sqes[_sqeTail & _sqMask];
        _sqeTail++;
        fixed (KernelTimespec* ts = &_fallbackTimeout)
        {
            // The kernel copies the timespec during submission, so pinning it for this call is enough.
            sqe.PrepTimeout((nint)ts, 1, 0);
        }

        sqe.UserData = InternalTimeoutUserData;
        Volatile.Write(ref *_sqTail, _sqeTail);
        return 1;
    }

    private void Probe()
    {
        const int Ops = 256;
        int size = sizeof(IoUringProbeHeader) + (Ops * sizeof(IoUringProbeOp));
        byte* buffer = stackalloc byte[size];
        new Span<byte>(buffer, size).Clear();
        if (Libc.IoUringRegister(_fd, RegisterProbe, buffer, Ops) < 0)
        {
            // Before 5.6 there is no probe; assume the 5.1 basics.
            _supportedOps[(int)IoUringOpcode.Nop] = true;
            _supportedOps[(int)IoUringOpcode.Readv] = true;
            _supportedOps[(int)IoUringOpcode.Writev] = true;
            _supportedOps[(int)IoUringOpcode.Fsync] = true;
            _supportedOps[(int)IoUringOpcode.PollAdd] = true;
            _supportedOps[(int)IoUringOpcode.PollRemove] = true;
            return;
        }

        var header = (IoUringProbeHeader*)buffer;
        var ops = (IoUringProbeOp*)(buffer + sizeof(IoUringProbeHeader));
        for (int i = 0; i < header->OpsLen && i < Ops; i++)
        {
            if ((ops[i].Flags & IoUringProbeOp.Supported) != 0)
            {
                _supportedOps[ops[i].Op] = true;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnsureOwner()
    {
        ThrowIfDisposed();
        int me = Environment.CurrentManagedThreadId;
        if (_ownerThreadId == me)
        {
            return;
        }

        if (_ownerThreadId == 0 && !_disabled)
        {
            // A ring that was not created disabled binds to the first thread that enters it.
            _ownerThreadId = me;
            return;
        }

        ThrowWrongThread();
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowWrongThread()
    {
        if (_ownerThreadId == 0)
        {
            throw new InvalidOperationException("The io_uring ring was created disabled and has not been enabled; call Enable on the thread that will own it.");
        }

        throw new InvalidOperationException(
            $"Only the ring's owner thread (managed id {_ownerThreadId}) may enter it; this is thread {Environment.CurrentManagedThreadId}. " +
            "Hand work to the owner instead (single-issuer rule).");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_sqes == null)
        {
            ThrowDisposed();
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(Ring));

    /// <summary>Unmaps the queues and closes the ring. Safe to call twice.</summary>
    public void Dispose()
    {
        if (_fd < 0)
        {
            return;
        }

        if (_registeredIndex >= 0 && _ownerThreadId == Environment.CurrentManagedThreadId)
        {
            var update = new RsrcUpdate { Offset = (uint)_registeredIndex };
            _ = Libc.IoUringRegister(_fd, UnregisterRingFds, &update, 1);
            _registeredIndex = -1;
        }

        Unmap();
        Libc.CloseQuietly(_fd);
        _fd = -1;
    }
}
