using System.Buffers;
using System.Runtime.InteropServices;

namespace Aio;

/// <summary>
/// Native memory at a given alignment, for O_DIRECT I/O. Never moves, so pinning costs only a reference count;
/// <see cref="IDisposable.Dispose"/> frees it, or, while an operation still has it pinned, makes it unusable at once
/// and frees it when the last pin is released (so an I/O in flight never writes into freed memory).
/// </summary>
public sealed unsafe partial class AlignedBuffer : MemoryManager<byte>
{
    private const int DisposedBit = 1;
    private const int OnePin = 2;

    // From this size on, the memory is an anonymous mapping of its own: the kernel hands it out zeroed, page by page on
    // first touch, so the buffer is never cleared by hand (a 256 KiB payload buffer cost a 256 KiB memset and its page
    // faults when it was made). Smaller buffers share the heap, which must be cleared.
    private const int MappedThreshold = 128 * 1024;

    private readonly int _length;
    private readonly bool _mapped;
    private byte* _pointer;

    // Pins outstanding (times OnePin) and the disposed bit, changed together with Interlocked: whoever sees "disposed
    // and no pin" on its own transition (Dispose, or the last Unpin after it) frees, exactly once.
    private int _state;

    /// <summary>Allocates <paramref name="length"/> zeroed bytes aligned to <paramref name="alignment"/> (a power of two).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or <paramref name="alignment"/> is not a positive power of two.</exception>
    public AlignedBuffer(int length, int alignment = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Alignment must be a positive power of two.");
        }

        _length = length;
        Alignment = alignment;
        if (length >= MappedThreshold && alignment <= Environment.SystemPageSize)
        {
            // Page-aligned, hence aligned to any alignment up to the page size.
            void* mapped = Interop.Libc.MMap(null, (nuint)length, Interop.Libc.PROT_READ | Interop.Libc.PROT_WRITE, Interop.Libc.MAP_PRIVATE | Interop.Libc.MAP_ANONYMOUS, -1, 0);
            if (mapped == Interop.Libc.MAP_FAILED)
            {
                // What NativeMemory.AlignedAlloc throws when it cannot allocate.
                throw new OutOfMemoryException($"mmap of {length} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
            }

            _pointer = (byte*)mapped;
            _mapped = true;
            return;
        }

        _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), (nuint)alignment);
        NativeMemory.Clear(_pointer, (nuint)length);
    }

    /// <summary>The alignment the buffer was allocated with.</summary>
    public int Alignment { get; }

    /// <summary>The buffer's length in bytes.</summary>
    public int Length => _length;

    /// <summary>The buffer's address.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public nint Address
    {
        get
        {
            ThrowIfDisposed();
            return (nint)_pointer;
        }
    }

    /// <summary>Pins outstanding (for tests).</summary>
    internal int PinCount => Volatile.Read(ref _state) / OnePin;

    /// <summary>
    /// Whether a pin is outstanding: an I/O in flight, or one whose context was disposed before the kernel let go of
    /// it (that pin stays for good). A pool should not hand such a buffer out again.
    /// </summary>
    public bool IsPinned => PinCount > 0;

    /// <summary>Whether the memory is an anonymous mapping of its own (freed with munmap) rather than heap memory.</summary>
    internal bool IsMapping => _mapped;

    /// <summary>Whether the memory has been freed (for tests).</summary>
    internal bool IsFreed => Volatile.Read(ref _state) == DisposedBit && _pointer == null;

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public override Span<byte> GetSpan()
    {
        ThrowIfDisposed();
        return new Span<byte>(_pointer, _length);
    }

    /// <summary>Pins the buffer (a reference count: the memory never moves) until the handle is disposed.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementIndex"/> is outside the buffer.</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        int state;
        do
        {
            state = Volatile.Read(ref _state);
            ObjectDisposedException.ThrowIf((state & DisposedBit) != 0, this);
        }
        while (Interlocked.CompareExchange(ref _state, state + OnePin, state) != state);

        // With this manager as the pinnable, disposing the handle calls Unpin.
        return new MemoryHandle(_pointer + elementIndex, default, this);
    }

    /// <summary>Releases one pin; the last one after <see cref="IDisposable.Dispose"/> frees the memory.</summary>
    public override void Unpin()
    {
        if (Interlocked.Add(ref _state, -OnePin) == DisposedBit)
        {
            Free();
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        int before = Interlocked.Or(ref _state, DisposedBit);
        if (before == 0)
        {
            Free();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf((Volatile.Read(ref _state) & DisposedBit) != 0, this);

    private void Free()
    {
        if (_mapped)
        {
            // munmap of a mapping this object made and nobody else knows fails only for bad arguments.
            Interop.Libc.MUnmap(_pointer, (nuint)_length);
        }
        else
        {
            NativeMemory.AlignedFree(_pointer);
        }

        _pointer = null;

        // After the free: the kernel holds its own references to the pages of a registered buffer, and no request can
        // name the slot any more (every request pins the buffer, and this was the last pin).
        ReleaseRegistration();
    }
}
