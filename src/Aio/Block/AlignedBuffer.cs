using System.Buffers;
using System.Runtime.InteropServices;

namespace Aio;

/// <summary>
/// Native memory at a given alignment, for O_DIRECT I/O. Never moves, so pinning is free; <see cref="IDisposable.Dispose"/>
/// frees it (do not dispose while an operation on it is in flight).
/// </summary>
public sealed unsafe class AlignedBuffer : MemoryManager<byte>
{
    private readonly int _length;
    private byte* _pointer;

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
        _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), (nuint)alignment);
        NativeMemory.Clear(_pointer, (nuint)length);
        Alignment = alignment;
    }

    /// <summary>The alignment the buffer was allocated with.</summary>
    public int Alignment { get; }

    /// <summary>The buffer's length in bytes.</summary>
    public int Length => _length;

    /// <summary>The buffer's address.</summary>
    public nint Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return (nint)_pointer;
        }
    }

    /// <inheritdoc/>
    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        return new Span<byte>(_pointer, _length);
    }

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        return new MemoryHandle(_pointer + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
        }
    }
}
