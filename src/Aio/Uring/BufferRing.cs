using System.Runtime.InteropServices;
using Aio.Interop;
using static Aio.Uring.IoUringNetConstants;

namespace Aio.Uring;

/// <summary>
/// A provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): buffers the kernel picks from for multishot receives.
/// One per loop, shared by its sockets. Home thread only: the tail is a single-producer index that only this thread
/// moves.
/// </summary>
/// <remarks>
/// The kernel reads an entry only after it sees the tail move past it, so entries are written first and the tail is
/// published with a store-release (pairs with the kernel's smp_load_acquire of the tail). A buffer handed to the
/// application by a completion belongs to it until <see cref="Recycle"/> puts it back.
/// </remarks>
internal sealed unsafe class BufferRing : IDisposable
{
    private readonly Ring _ring;
    private readonly byte* _entries;
    private readonly byte* _buffers;
    private readonly int _count;
    private readonly int _mask;
    private ushort _tail;
    private int _outstanding;
    private int _retired;
    private int _freed;
    private bool _keepMemory;

    private BufferRing(Ring ring, ushort groupId, int count, int bufferSize, byte* entries, byte* buffers)
    {
        _ring = ring;
        GroupId = groupId;
        _count = count;
        _mask = count - 1;
        BufferSize = bufferSize;
        _entries = entries;
        _buffers = buffers;
    }

    /// <summary>sqe->buf_group of receives that draw from this ring.</summary>
    public ushort GroupId { get; }

    /// <summary>Bytes per buffer.</summary>
    public int BufferSize { get; }

    /// <summary>Buffers the application holds (handed out by completions, not yet recycled).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>The memory was freed (for tests: only once the ring is disposed and no buffer is held any more).</summary>
    internal bool Freed => Volatile.Read(ref _freed) != 0;

    /// <summary>The ring this buffer ring is registered with.</summary>
    public Ring Ring => _ring;

    /// <summary>
    /// Allocates and registers a ring of <paramref name="count"/> (a power of two) buffers of
    /// <paramref name="bufferSize"/> bytes; returns null with the errno when the kernel refuses (EINVAL before 5.19).
    /// </summary>
    public static BufferRing? TryCreate(Ring ring, ushort groupId, int count, int bufferSize, out int errno)
    {
        if (count <= 0 || (count & (count - 1)) != 0 || count > 32768)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "A buffer ring holds a power of two of at most 32768 buffers.");
        }

        // The kernel wants the ring page-aligned (64 KiB pages on some arm64 kernels); the buffers need no more than 4 KiB.
        byte* entries = (byte*)NativeMemory.AlignedAlloc((nuint)(count * BufSize), (nuint)Math.Max(4096, Environment.SystemPageSize));
        byte* buffers;
        try
        {
            buffers = (byte*)NativeMemory.AlignedAlloc((nuint)count * (nuint)bufferSize, 4096);
        }
        catch
        {
            // OutOfMemoryException: the ring's entries must not leak with it.
            NativeMemory.AlignedFree(entries);
            throw;
        }

        new Span<byte>(entries, count * BufSize).Clear();
        byte* reg = stackalloc byte[BufRegSize];
        new Span<byte>(reg, BufRegSize).Clear();
        *(ulong*)reg = (ulong)entries;              // ring_addr
        *(uint*)(reg + 8) = (uint)count;            // ring_entries
        *(ushort*)(reg + 12) = groupId;             // bgid
        int rc = Libc.IoUringRegister(ring.Fd, RegisterPbufRing, reg, 1);
        if (rc < 0)
        {
            errno = Errors.LastErrno;
            NativeMemory.AlignedFree(entries);
            NativeMemory.AlignedFree(buffers);
            return null;
        }

        errno = 0;
        var result = new BufferRing(ring, groupId, count, bufferSize, entries, buffers);
        for (int i = 0; i < count; i++)
        {
            result.Add((ushort)i);
        }

        result.Publish();
        return result;
    }

    /// <summary>The first <paramref name="length"/> bytes of buffer <paramref name="id"/>, which a completion handed out.</summary>
    public ReadOnlySpan<byte> Buffer(ushort id, int length) => new(_buffers + ((nint)id * BufferSize), length);

    /// <summary>A completion handed one buffer to the application.</summary>
    public void Taken() => Interlocked.Increment(ref _outstanding);

    /// <summary>
    /// Gives buffer <paramref name="id"/> back to the kernel; once the ring is retired, only gives up the hold (any
    /// thread then: sockets that outlived their loop close wherever they are disposed), and the last one frees the memory.
    /// </summary>
    public void Recycle(ushort id)
    {
        if (Volatile.Read(ref _retired) == 0)
        {
            // Written while this buffer is still counted as held, so the memory cannot be freed under the write (a
            // Retire on another thread frees only once the count is 0).
            Add(id);
            Publish();
        }

        // Atomic either way: a context may be disposed from another thread while the home thread, outside the loop,
        // closes a socket. Pairs with Retire (each side a full fence between its write and its read of the other's):
        // whichever sees both "retired" and "none held" frees, and Free runs once.
        if (Interlocked.Decrement(ref _outstanding) == 0 && Volatile.Read(ref _retired) != 0 && !_keepMemory)
        {
            Free();
        }
    }

    /// <summary>
    /// Unregisters the ring and frees its memory, or, while sockets still hold buffers (their loop was disposed under
    /// them), leaves the memory to the last <see cref="Recycle"/>: until then a socket may still read what its buffers hold.
    /// </summary>
    public void Dispose() => Retire(kernelMayStillWrite: false);

    /// <summary>
    /// The ring is no longer used by the kernel or the loop. <paramref name="kernelMayStillWrite"/>: a request drawing from it
    /// was abandoned in flight (the context was disposed off its thread), so the memory is never freed.
    /// </summary>
    public void Retire(bool kernelMayStillWrite)
    {
        if (_retired != 0)
        {
            return;
        }

        _keepMemory = kernelMayStillWrite;
        if (!kernelMayStillWrite)
        {
            byte* reg = stackalloc byte[BufRegSize];
            new Span<byte>(reg, BufRegSize).Clear();
            *(ushort*)(reg + 12) = GroupId;
            // A refused unregister leaves the ring registered, and the kernel may still pick buffers from it and write
            // into them until the ring itself closes: the memory is then kept, like that of an abandoned request.
            if (_ring.Fd >= 0 && Libc.IoUringRegister(_ring.Fd, UnregisterPbufRing, reg, 1) < 0)
            {
                _keepMemory = true;
            }
        }

        // From here the holds are given up with atomic decrements (see Recycle); the full fence orders the flag
        // before the count is read.
        Interlocked.Exchange(ref _retired, 1);
        if (Volatile.Read(ref _outstanding) == 0 && !_keepMemory)
        {
            Free();
        }
    }

    private void Free()
    {
        if (Interlocked.Exchange(ref _freed, 1) != 0)
        {
            return;
        }

        NativeMemory.AlignedFree(_entries);
        NativeMemory.AlignedFree(_buffers);
    }

    private void Add(ushort id)
    {
        byte* entry = _entries + ((_tail & _mask) * BufSize);
        *(ulong*)entry = (ulong)(_buffers + ((nint)id * BufferSize));
        *(uint*)(entry + 8) = (uint)BufferSize;
        *(ushort*)(entry + 12) = id;
        _tail++;
    }

    private void Publish() => Volatile.Write(ref *(ushort*)(_entries + BufRingTailOffset), _tail);
}
