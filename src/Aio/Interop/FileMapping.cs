using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// A read-only shared mapping of a whole file, for <see cref="BlockFileView"/>. Pins are counted (every send that
/// hands a slice to the kernel holds one), and the mapping is unmapped only when it is disposed and the last pin is
/// gone: a disposed view never pulls pages out from under a send in flight, and its addresses are never reused by a
/// later mapping while the kernel may still read them.
/// </summary>
internal sealed unsafe class FileMapping
{
    private const int DisposedBit = 1;
    private const int OnePin = 2;

    // mincore's result vector is one byte per page: asked in pieces of this many pages, on the stack.
    private const int ResidencyPages = 1024;

    private readonly nuint _length;
    private readonly bool _residencyReported;
    private byte* _pointer;

    // Pins outstanding (times OnePin) and the disposed bit, changed together (as AlignedBuffer's).
    private int _state;

    private FileMapping(byte* pointer, long length, bool residencyReported)
    {
        _pointer = pointer;
        _length = (nuint)length;
        _residencyReported = residencyReported;
    }

    /// <summary>The mapped length (the file's size when it was mapped).</summary>
    public long Length => (long)_length;

    /// <summary>Whether <see cref="Dispose"/> was called (slices and pins are refused).</summary>
    public bool IsDisposed => (Volatile.Read(ref _state) & DisposedBit) != 0;

    /// <summary>Whether the mapping has been unmapped (for tests).</summary>
    public bool IsUnmapped => Volatile.Read(ref _state) == DisposedBit && _pointer == null;

    /// <summary>
    /// Maps <paramref name="length"/> bytes of <paramref name="fd"/> read-only (an empty file maps nothing).
    /// <paramref name="writable"/>: the fd was opened for writing (so the process may write the file).
    /// </summary>
    /// <exception cref="AioException">mmap or fstat failed.</exception>
    public static FileMapping Map(int fd, long length, bool writable)
    {
        bool reported = ResidencyIsReported(writable, Libc.FileOwner(fd), Libc.GetEUid());
        if (length == 0)
        {
            return new FileMapping(null, 0, reported);
        }

        void* mapped = Libc.MMap(null, (nuint)length, Libc.PROT_READ, Libc.MAP_SHARED, fd, 0);
        if (mapped == Libc.MAP_FAILED)
        {
            throw new AioException(Marshal.GetLastPInvokeError(), "mmap");
        }

        return new FileMapping((byte*)mapped, length, reported);
    }

    /// <summary>
    /// Whether mincore tells this process the truth about the file's pages: since Linux 5.2 it reports the page cache
    /// only to a process that owns the file or may write it (CAP_FOWNER counts as owning), and every page as resident
    /// to anyone else, so that residency cannot be probed as a side channel. Owning, root, or an fd opened for writing
    /// (the open checked write permission) are sure; a read-only fd of someone else's file is not asked further.
    /// </summary>
    public static bool ResidencyIsReported(bool writable, uint owner, uint euid) => writable || owner == euid || euid == 0;

    /// <summary>
    /// Whether every page of [offset, offset+length) is in the page cache (mincore), so that reading it through the
    /// mapping will not wait for the disk. A page may be evicted right after: the answer is a hint, and a read of an
    /// evicted page only waits, it does not fail.
    /// </summary>
    public bool IsResident(long offset, long length)
    {
        if (length == 0)
        {
            return true;
        }

        if (!_residencyReported)
        {
            // mincore would say "resident" whatever the truth: nothing is known to be.
            return false;
        }

        long page = Environment.SystemPageSize;
        long first = offset - (offset % page);
        long end = offset + length;
        byte* vec = stackalloc byte[ResidencyPages];
        AddPin();
        try
        {
            for (long at = first; at < end; at += ResidencyPages * page)
            {
                long piece = Math.Min(ResidencyPages * page, end - at);
                if (Libc.MInCore(_pointer + at, (nuint)piece, vec) != 0)
                {
                    throw new AioException(Marshal.GetLastPInvokeError(), "mincore");
                }

                long pages = (piece + page - 1) / page;
                for (long i = 0; i < pages; i++)
                {
                    if ((vec[i] & 1) == 0)
                    {
                        return false;
                    }
                }
            }

            return true;
        }
        finally
        {
            ReleasePin();
        }
    }

    /// <summary>The address of <paramref name="offset"/>, with one pin taken (released by <see cref="ReleasePin"/>).</summary>
    /// <exception cref="ObjectDisposedException">The mapping was disposed and no pin holds it.</exception>
    public byte* Pin(long offset)
    {
        AddPin();
        return _pointer + offset;
    }

    /// <summary>A span over [offset, offset+length) (no pin: valid only while the mapping is not disposed).</summary>
    /// <exception cref="ObjectDisposedException">The mapping was disposed.</exception>
    public Span<byte> GetSpan(long offset, int length)
    {
        ObjectDisposedException.ThrowIf((Volatile.Read(ref _state) & DisposedBit) != 0, this);
        return new Span<byte>(_pointer + offset, length);
    }

    /// <summary>Releases one pin; the last one after <see cref="Dispose"/> unmaps.</summary>
    public void ReleasePin()
    {
        if (Interlocked.Add(ref _state, -OnePin) == DisposedBit)
        {
            Unmap();
        }
    }

    /// <summary>Refuses new pins at once; unmaps now, or when the last pin is released.</summary>
    public void Dispose()
    {
        int before = Interlocked.Or(ref _state, DisposedBit);
        if (before == 0)
        {
            Unmap();
        }
    }

    private void AddPin()
    {
        int state;
        do
        {
            // After Dispose only while another pin is held: the mapping cannot go away under it (the compare-exchange
            // fails if that pin is released meanwhile), and a reply that pinned its slice when it was queued can still
            // be handed to the send that pins it again.
            state = Volatile.Read(ref _state);
            ObjectDisposedException.ThrowIf(state == DisposedBit, this);
        }
        while (Interlocked.CompareExchange(ref _state, state + OnePin, state) != state);
    }

    private void Unmap()
    {
        if (_pointer != null)
        {
            // munmap of a mapping this object made and nobody else knows fails only for bad arguments.
            Libc.MUnmap(_pointer, _length);
        }

        _pointer = null;
    }
}
