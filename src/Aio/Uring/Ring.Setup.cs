using Aio.Interop;
using static Aio.Uring.IoUringConstants;

namespace Aio.Uring;

/// <summary>Ring setup: flag probing from the best tier down, and the three mappings.</summary>
internal sealed unsafe partial class Ring
{
    /// <summary>
    /// The tiers tried in order (docs/DESIGN.md, "The ring"). Each is tried first with NO_SQARRAY (6.6) and then without it;
    /// the kernel's EINVAL, not its version string, decides. R_DISABLED rides along on the single-issuer tier so
    /// that the thread which enables the ring, not the one that created it, becomes the submitter.
    /// </summary>
    private static readonly uint[] s_tiers =
    [
        SetupSingleIssuer | SetupDeferTaskrun | SetupTaskrunFlag | SetupSubmitAll | SetupCqSize | SetupRDisabled,
        SetupCoopTaskrun | SetupTaskrunFlag | SetupSubmitAll | SetupCqSize,
        SetupCqSize,
        0,
    ];

    /// <summary>IORING_MAX_CQ_ENTRIES (2 x IORING_MAX_ENTRIES), the largest CQ the kernel accepts.</summary>
    internal const uint MaxCqEntries = 65536;

    /// <summary>Sets up a ring, probing the flag tiers. Throws <see cref="AioException"/> for anything but EINVAL.</summary>
    public static Ring Create(RingOptions? options = null)
    {
        options ??= new RingOptions();
        if (options.Entries is 0 or > 32768)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Entries, "Ring entries must be between 1 and 32768.");
        }

        int lastErrno = Errno.EINVAL;
        foreach (uint tier in s_tiers)
        {
            uint wanted = tier & ~options.ForbiddenFlags;
            if ((wanted & SetupTaskrunFlag) != 0 && (wanted & (SetupCoopTaskrun | SetupDeferTaskrun)) == 0)
            {
                // TASKRUN_FLAG needs COOP_TASKRUN or DEFER_TASKRUN: without either (an outer loop forbids the
                // single-issuer flags) the kernel refuses the tier, so it is not worth two setup calls.
                continue;
            }

            foreach (uint extra in (ReadOnlySpan<uint>)[SetupNoSqArray, 0])
            {
                uint flags = wanted | (extra & ~options.ForbiddenFlags);
                var p = default(IoUringParams);
                p.Flags = flags;
                if ((flags & SetupCqSize) != 0)
                {
                    // The kernel refuses (EINVAL, without IORING_SETUP_CLAMP) a CQ above IORING_MAX_CQ_ENTRIES: past 16384
                    // entries 4x would exceed it, and every tier with CQSIZE (all the modern ones) would be lost.
                    p.CqEntries = Math.Min(options.Entries * 4, MaxCqEntries);
                }

                int fd = Libc.IoUringSetup(options.Entries, &p);
                if (fd >= 0 && (p.Features & FeatNoDrop) == 0)
                {
                    // Before 5.5 a full completion queue drops completions (an await that never ends, a buffer pinned
                    // for ever), and IORING_OP_TIMEOUT (5.4), which timed waits use, may be missing too: such a ring is
                    // not worth having, and the context falls back to poll(2) and epoll.
                    Libc.CloseQuietly(fd);
                    throw new AioException(Errno.EOPNOTSUPP, "io_uring_setup (the kernel lacks IORING_FEAT_NODROP, Linux 5.5)");
                }

                if (fd >= 0)
                {
                    try
                    {
                        return new Ring(fd, ref p, options);
                    }
                    catch
                    {
                        Libc.CloseQuietly(fd);
                        throw;
                    }
                }

                lastErrno = Errors.LastErrno;
                if (lastErrno != Errno.EINVAL)
                {
                    // EPERM (seccomp, kernel.io_uring_disabled), ENOSYS, ENOMEM, EMFILE: no tier will do better.
                    throw new AioException(lastErrno, "io_uring_setup");
                }
            }
        }

        throw new AioException(lastErrno, "io_uring_setup");
    }

    private void Map(ref IoUringParams p)
    {
        _sqRingSize = p.SqOff.Array + (p.SqEntries * sizeof(uint));
        _cqRingSize = p.CqOff.Cqes + (p.CqEntries * (uint)CqeSize);
        bool single = (p.Features & FeatSingleMmap) != 0;
        if (single)
        {
            // 5.4+: one mapping holds both rings.
            _sqRingSize = _cqRingSize = Math.Max(_sqRingSize, _cqRingSize);
        }

        _sqRing = MapOrThrow(_sqRingSize, OffSqRing);
        _cqRing = single ? _sqRing : MapOrThrow(_cqRingSize, OffCqRing);
        _sqesSize = p.SqEntries * (uint)SqeSize;
        _sqes = (Sqe*)MapOrThrow(_sqesSize, OffSqes);

        byte* sq = _sqRing;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _sqEntries = *(uint*)(sq + p.SqOff.RingEntries);
        _sqFlags = (uint*)(sq + p.SqOff.Flags);
        _sqDropped = (uint*)(sq + p.SqOff.Dropped);
        if ((p.Flags & SetupNoSqArray) == 0)
        {
            // The indirection array is filled once with the identity mapping; entries are then used in ring order.
            uint* array = (uint*)(sq + p.SqOff.Array);
            for (uint i = 0; i < _sqEntries; i++)
            {
                array[i] = i;
            }
        }

        byte* cq = _cqRing;
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqEntries = *(uint*)(cq + p.CqOff.RingEntries);
        _cqOverflow = (uint*)(cq + p.CqOff.Overflow);
        _cqes = (Cqe*)(cq + p.CqOff.Cqes);

        // The local tail starts where the kernel's is (0 on a new ring).
        _sqeTail = *_sqTail;
    }

    private byte* MapOrThrow(uint size, long offset)
    {
        void* ptr = Libc.MMap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _fd, offset);
        if (ptr == Libc.MAP_FAILED)
        {
            int errno = Errors.LastErrno;
            Unmap();
            throw new AioException(errno, "mmap(io_uring)");
        }

        return (byte*)ptr;
    }

    /// <summary>
    /// Unmaps the three regions. Every pointer into them is cleared first, so that the accessors read a disposed ring as
    /// empty instead of dereferencing freed memory.
    /// </summary>
    private void Unmap()
    {
        byte* sqRing = _sqRing;
        byte* cqRing = _cqRing;
        Sqe* sqes = _sqes;
        _sqes = null;
        _sqRing = null;
        _cqRing = null;
        _sqHead = _sqTail = _sqFlags = _sqDropped = null;
        _cqHead = _cqTail = _cqOverflow = null;
        _cqes = null;

        // Full fence: the cleared pointers are visible before the memory goes away (pairs with the single loads in the accessors).
        Interlocked.MemoryBarrier();
        if (sqes != null)
        {
            _ = Libc.MUnmap(sqes, _sqesSize);
        }

        if (cqRing != null && cqRing != sqRing)
        {
            _ = Libc.MUnmap(cqRing, _cqRingSize);
        }

        if (sqRing != null)
        {
            _ = Libc.MUnmap(sqRing, _sqRingSize);
        }
    }
}
