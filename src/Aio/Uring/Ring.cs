using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    private bool _ringFdRefused;
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

    /// <summary>
    /// The timespec of the TIMEOUT entry that bounds a wait on kernels without EXT_ARG (pre-5.11), in native memory: the
    /// kernel reads it when it consumes the entry, which may be a later enter than the one that queued it, so it must
    /// not live in a managed object the GC can move. Null when EXT_ARG is used.
    /// </summary>
    private KernelTimespec* _fallbackTimeout;

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
        if (!_useExtArg)
        {
            _fallbackTimeout = (KernelTimespec*)NativeMemory.AllocZeroed((nuint)sizeof(KernelTimespec));
        }
    }

    /// <summary>What the kernel accepted.</summary>
    public IoUringSetup Setup { get; }

    /// <summary>The ring's file descriptor (what an outer loop polls: readable when completions are posted or task work is pending).</summary>
    public int Fd => _fd;

    /// <summary>True once <see cref="Enable"/> bound an owner (or the ring was never disabled and has entered once).</summary>
    public bool IsBound => _ownerThreadId != 0;

    /// <summary>The managed thread id of the owner, 0 before binding.</summary>
    public int OwnerThreadId => _ownerThreadId;

    // Every accessor below loads its pointer once and treats null as "unmapped": a disposed ring reads as empty and is
    // never dereferenced (Unmap clears the pointers before it unmaps).

    /// <summary>The SQ ring's flags word (IORING_SQ_*), read with acquire semantics; 0 once disposed.</summary>
    public uint SqFlags
    {
        get
        {
            uint* flags = _sqFlags;
            return flags == null ? 0 : Volatile.Read(ref *flags);
        }
    }

    /// <summary>IORING_SQ_TASKRUN: completions are waiting as task work and appear only after entering the kernel (seed 000).</summary>
    public bool TaskrunPending => (SqFlags & SqTaskrun) != 0;

    /// <summary>IORING_SQ_CQ_OVERFLOW: completions are held in the kernel's overflow list.</summary>
    public bool CqOverflowPending => (SqFlags & SqCqOverflow) != 0;

    /// <summary>Entries prepared and not yet consumed by the kernel; 0 once disposed.</summary>
    public uint SqReady
    {
        get
        {
            uint* head = _sqHead;
            return head == null ? 0 : _sqeTail - Volatile.Read(ref *head);
        }
    }

    /// <summary>Free submission slots; 0 once disposed.</summary>
    public uint SqSpaceLeft
    {
        get
        {
            uint* head = _sqHead;
            return head == null ? 0 : _sqEntries - (_sqeTail - Volatile.Read(ref *head));
        }
    }

    /// <summary>Completions posted and not yet consumed; 0 once disposed.</summary>
    public uint CqReady
    {
        get
        {
            uint* head = _cqHead;
            uint* tail = _cqTail;
            return head == null || tail == null ? 0 : Volatile.Read(ref *tail) - *head;
        }
    }

    /// <summary>Completions dropped by kernels without IORING_FEAT_NODROP (the CQ ring's overflow counter).</summary>
    public uint CqOverflowCount
    {
        get
        {
            uint* overflow = _cqOverflow;
            return overflow == null ? 0 : Volatile.Read(ref *overflow);
        }
    }

    /// <summary>Entries the kernel dropped as invalid (the SQ ring's dropped counter).</summary>
    public uint SqDropped
    {
        get
        {
            uint* dropped = _sqDropped;
            return dropped == null ? 0 : Volatile.Read(ref *dropped);
        }
    }

    /// <summary>True once <see cref="Dispose"/> ran: the queues are unmapped and every operation throws <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => _sqes == null;

    /// <summary>io_uring_enter calls made.</summary>
    public long Enters => Volatile.Read(ref _enters);

    /// <summary>Entries the kernel consumed.</summary>
    public long Submitted => Volatile.Read(ref _submitted);

    /// <summary>Completions consumed (internal timeouts included).</summary>
    public long Reaped => Volatile.Read(ref _reaped);

    /// <summary>Whether the kernel reported <paramref name="opcode"/> as supported (IORING_REGISTER_PROBE, 5.6+).</summary>
    public bool Supports(IoUringOpcode opcode) => _supportedOps[(byte)opcode];

    /// <summary>For tests: behave as if the kernel did not support <paramref name="opcode"/> (an older kernel).</summary>
    internal void Forget(IoUringOpcode opcode) => _supportedOps[(byte)opcode] = false;

    /// <summary>
    /// Binds the calling thread as the owner. For a ring created with IORING_SETUP_R_DISABLED this is
    /// IORING_REGISTER_ENABLE_RINGS, which makes the caller the single issuer. EINTR is retried; any other failure throws
    /// <see cref="AioException"/> and leaves the ring disabled and unbound, so that a later call can try again.
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
            var call = new RegisterCall(_fd, RegisterEnableRings, null, 0);
            if (Eintr.Retry(ref call) < 0)
            {
                Errors.ThrowLast("io_uring_register(ENABLE_RINGS)");
            }

            _disabled = false;
        }

        _ownerThreadId = me;
    }

    /// <summary>Whether <see cref="RegisterRingFd"/> succeeded and enter names the ring by its registered index (tests).</summary>
    internal bool IsRingFdRegistered => _registeredIndex >= 0;

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

        if (_ringFdRefused)
        {
            return false;
        }

        var update = new RsrcUpdate { Offset = uint.MaxValue, Data = (ulong)_fd };
        int rc = Libc.IoUringRegister(_fd, RegisterRingFds, &update, 1);
        if (rc != 1)
        {
            // Asked once: a kernel that refused (EINVAL before 5.18, or no free slot in the task) refuses again.
            _ringFdRefused = true;
            return false;
        }

        _registeredIndex = (int)update.Offset;
        return true;
    }

    /// <summary>
    /// Registers a table of <paramref name="count"/> empty file slots (IORING_REGISTER_FILES2 with -1 entries, 5.13), for
    /// <see cref="UpdateFile"/> to fill. Owner thread. Returns 0 or the negative errno (EBUSY: a table exists; EMFILE:
    /// more slots than RLIMIT_NOFILE; EOPNOTSUPP: a kernel before 5.13).
    /// </summary>
    /// <remarks>
    /// Not IORING_REGISTER_FILES: before 5.17 that opcode quiesces the ring, waiting until every request in flight has
    /// completed, and the loop's own POLL_ADDs (its notifier, an idle socket) may never complete: the home thread would
    /// hang. FILES2 never quiesced; a kernel without it (no IORING_FEAT_RSRC_TAGS) gets no fixed files.
    /// </remarks>
    internal int RegisterSparseFiles(int count)
    {
        EnsureOwner();
        if ((Setup.Features & FeatRsrcTags) == 0)
        {
            return -Errno.EOPNOTSUPP;
        }

        int[] empty = new int[count];
        Array.Fill(empty, -1);
        fixed (int* fds = empty)
        {
            var register = new RsrcRegister { Nr = (uint)count, Data = (ulong)fds };
            var call = new RegisterCall(_fd, RegisterFiles2, &register, (uint)sizeof(RsrcRegister));
            return Eintr.Retry(ref call) < 0 ? -Errors.LastErrno : 0;
        }
    }

    /// <summary>
    /// Puts <paramref name="fd"/> in slot <paramref name="slot"/> of the registered file table, or empties the slot with
    /// -1 (IORING_REGISTER_FILES_UPDATE, 5.5). The table holds its own reference to the file: the fd may be closed
    /// afterwards, and requests already submitted keep the file they resolved. Owner thread. Returns 0 or the negative errno.
    /// </summary>
    internal int UpdateFile(int slot, int fd)
    {
        EnsureOwner();
        int value = fd;
        var update = new RsrcUpdate { Offset = (uint)slot, Data = (ulong)&value };
        var call = new RegisterCall(_fd, RegisterFilesUpdate, &update, 1);
        return Eintr.Retry(ref call) < 0 ? -Errors.LastErrno : 0;
    }

    /// <summary>
    /// Registers a table of <paramref name="count"/> empty buffer slots (IORING_REGISTER_BUFFERS2 with
    /// IORING_RSRC_REGISTER_SPARSE, 5.19), for <see cref="UpdateBuffer"/> to fill. Owner thread. Returns 0 or the
    /// negative errno.
    /// </summary>
    internal int RegisterSparseBuffers(int count)
    {
        EnsureOwner();
        var register = new RsrcRegister { Nr = (uint)count, Flags = RsrcRegisterSparse };
        var call = new RegisterCall(_fd, RegisterBuffers2, &register, (uint)sizeof(RsrcRegister));
        return Eintr.Retry(ref call) < 0 ? -Errors.LastErrno : 0;
    }

    /// <summary>
    /// Puts the buffer [<paramref name="address"/>, + <paramref name="length"/>) in slot <paramref name="slot"/> of the
    /// registered buffer table (the kernel pins its pages; READ_FIXED/WRITE_FIXED then skip pinning per request), or
    /// empties the slot with a zero address (IORING_REGISTER_BUFFERS_UPDATE, 5.13). Requests already submitted keep the
    /// buffer they resolved. Owner thread. Returns 0 or the negative errno (ENOMEM: over RLIMIT_MEMLOCK).
    /// </summary>
    internal int UpdateBuffer(int slot, nint address, nuint length)
    {
        EnsureOwner();
        var iov = new IoVec { Base = address, Length = length };
        var update = new RsrcUpdate2 { Offset = (uint)slot, Data = (ulong)&iov, Nr = 1 };
        var call = new RegisterCall(_fd, RegisterBuffersUpdate, &update, (uint)sizeof(RsrcUpdate2));
        return Eintr.Retry(ref call) < 0 ? -Errors.LastErrno : 0;
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
    /// ("reap completions, then submit again"; nothing was consumed); other failures throw. EINTR is retried.
    /// </summary>
    public int Submit() => ThrowUnlessBackPressure(Enter(0, 0, wait: false, submit: true));

    /// <summary>
    /// Submits the prepared entries and never throws for a failed io_uring_enter: returns how many the kernel consumed,
    /// or the negative errno (the entries then stay in the queue for a later submission). For callers that have already
    /// told their caller "accepted" and must not take it back.
    /// </summary>
    public int TrySubmit() => Enter(0, 0, wait: false, submit: true);

    /// <summary>
    /// Submits the prepared entries and waits until <paramref name="minComplete"/> completions are posted,
    /// <paramref name="timeoutNs"/> passes (negative: no limit; 0: do not sleep, but run pending task work and flush
    /// overflowed completions), or a signal arrives. Returns as <see cref="Submit"/> does.
    /// </summary>
    public int SubmitAndWait(uint minComplete, long timeoutNs) => ThrowUnlessBackPressure(Enter(minComplete, timeoutNs, wait: true, submit: true));

    /// <summary>
    /// Enters without submitting and without sleeping: runs pending task work and flushes overflowed completions into
    /// the CQ. What to do when the kernel refuses submissions (EAGAIN/EBUSY) until completions are consumed. Returns 0 or
    /// the negative errno; never throws for a failed io_uring_enter.
    /// </summary>
    public int GetEvents() => Enter(0, 0, wait: true, submit: false);

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
                    _ = GetEvents();
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

    /// <summary>
    /// Copies out up to <paramref name="destination"/>'s length of completions and consumes them with one store of the CQ
    /// head (the kernel may reuse their slots only after it). Internal TIMEOUT completions are skipped. Returns how many
    /// were copied; 0 when the CQ is empty, after flushing overflowed completions as <see cref="TryGetCqe"/> does.
    /// </summary>
    public int TakeCqes(Span<Cqe> destination)
    {
        ThrowIfDisposed();
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail);
        if (head == tail)
        {
            if ((Volatile.Read(ref *_sqFlags) & SqCqOverflow) == 0 || _ownerThreadId != Environment.CurrentManagedThreadId)
            {
                return 0;
            }

            _ = GetEvents();
            tail = Volatile.Read(ref *_cqTail);
        }

        uint start = head;
        int copied = 0;
        while (head != tail && copied < destination.Length)
        {
            ref readonly Cqe cqe = ref _cqes[head & _cqMask];
            head++;
            if (cqe.UserData != InternalTimeoutUserData)
            {
                destination[copied++] = cqe;
            }
        }

        // Release: the kernel may reuse the slots only after our copies above.
        Volatile.Write(ref *_cqHead, head);
        _reaped += head - start;
        return copied;
    }

    /// <summary>
    /// io_uring_enter: publishes the SQ tail, submits (when <paramref name="submit"/>) and waits (when
    /// <paramref name="wait"/>). Returns the number consumed (0 when a wait timed out), or the negative errno; throws only
    /// for misuse (wrong thread, disposed).
    /// </summary>
    private int Enter(uint minComplete, long timeoutNs, bool wait, bool submit)
    {
        EnsureOwner();

        // Publish the local tail (release: entry contents before the tail the kernel reads with acquire).
        Volatile.Write(ref *_sqTail, _sqeTail);
        uint toSubmit = submit ? _sqeTail - Volatile.Read(ref *_sqHead) : 0;
        uint flags = 0;
        if (wait)
        {
            flags |= EnterGetEvents;
            if (timeoutNs > 0 && !_useExtArg)
            {
                int rc = QueueFallbackTimeout(timeoutNs, ref toSubmit);
                if (rc < 0)
                {
                    return rc;
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

        var call = new EnterCall(this, fd, toSubmit, minComplete, flags, useExtArg: wait && _useExtArg);
        long result = Eintr.Retry(ref call, wait ? timeoutNs : 0);
        if (result >= 0)
        {
            _submitted += result;
            return (int)result;
        }

        int errno = Errors.LastErrno;

        // ETIME: the wait timed out (EXT_ARG); entries were still submitted, and the caller counts them from the head.
        return errno == Errno.ETIME ? 0 : -errno;
    }

    /// <summary>EAGAIN/EBUSY pass through as negative errnos; anything else throws.</summary>
    private static int ThrowUnlessBackPressure(int rc)
    {
        if (rc < 0 && rc != -Errno.EAGAIN && rc != -Errno.EBUSY)
        {
            Errors.Throw(-rc, "io_uring_enter");
        }

        return rc;
    }

    /// <summary>
    /// Kernels before 5.11 have no EXT_ARG: a wait is bounded by a TIMEOUT entry whose completion TryGetCqe hides. With a
    /// full SQ the entries go first (a plain submit), so that the timeout always fits: a timed wait never turns into an
    /// unbounded one. Returns 0, or the negative errno of that submit.
    /// </summary>
    private int QueueFallbackTimeout(long timeoutNs, ref uint toSubmit)
    {
        if (_sqeTail - Volatile.Read(ref *_sqHead) >= _sqEntries)
        {
            var submitAll = new EnterCall(this, _fd, toSubmit, 0, 0, useExtArg: false);
            long rc = Eintr.Retry(ref submitAll, 0);
            if (rc < 0)
            {
                return -Errors.LastErrno;
            }

            _submitted += rc;
            toSubmit = _sqeTail - Volatile.Read(ref *_sqHead);
            if (toSubmit >= _sqEntries)
            {
                // The kernel consumed nothing and said nothing: wait unbounded rather than overwrite an entry.
                return 0;
            }
        }

        *_fallbackTimeout = KernelTimespec.FromNanoseconds(timeoutNs);
        ref Sqe sqe = ref _sqes[_sqeTail & _sqMask];
        _sqeTail++;
        sqe = default;
        sqe.PrepTimeout((nint)_fallbackTimeout, 1, 0);
        sqe.UserData = InternalTimeoutUserData;
        Volatile.Write(ref *_sqTail, _sqeTail);
        toSubmit++;
        return 0;
    }

    /// <summary>Where the TIMEOUT entries of pre-5.11 waits point (for tests); 0 when EXT_ARG is used.</summary>
    internal nint FallbackTimeoutAddress => (nint)_fallbackTimeout;

    /// <summary>One io_uring_enter attempt for <see cref="Eintr"/>: a retry after EINTR waits only for the time left.</summary>
    private readonly struct EnterCall(Ring ring, int fd, uint toSubmit, uint minComplete, uint flags, bool useExtArg) : IInterruptibleCall
    {
        public long Invoke(long timeoutNs)
        {
            uint min = minComplete;
            uint enterFlags = flags;
            void* arg = null;
            nuint argSize = 0;
            var ts = default(KernelTimespec);
            var ext = default(GetEventsArg);
            if ((flags & EnterGetEvents) != 0 && timeoutNs == 0)
            {
                // Do not sleep: run task work, flush overflow, return.
                min = 0;
            }
            else if (useExtArg && timeoutNs > 0)
            {
                ts = KernelTimespec.FromNanoseconds(timeoutNs);
                ext.Ts = (ulong)&ts;
                enterFlags |= EnterExtArg;
                arg = &ext;
                argSize = (nuint)sizeof(GetEventsArg);
            }

            ring._enters++;
            return Libc.IoUringEnter(fd, toSubmit, min, enterFlags, arg, argSize);
        }
    }

    /// <summary>One io_uring_register attempt for <see cref="Eintr"/>.</summary>
    private readonly struct RegisterCall(int fd, uint opcode, void* arg, uint count) : IInterruptibleCall
    {
        public long Invoke(long timeoutNs) => Libc.IoUringRegister(fd, opcode, arg, count);
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

        // After the close: the kernel has copied the timespec of every TIMEOUT it consumed, and consumes no more.
        NativeMemory.Free(_fallbackTimeout);
        _fallbackTimeout = null;
    }
}
