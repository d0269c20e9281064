using System.Buffers;

namespace Aio.Interop;

/// <summary>
/// A <see cref="Memory{T}"/> source over part of a <see cref="FileMapping"/>: a memory's offsets and lengths are
/// <see cref="int"/>, so a mapping of a larger file is cut into windows, each at most <see cref="int.MaxValue"/> bytes.
/// Pins are the mapping's (a window holds no state of its own), and disposing a window does nothing.
/// </summary>
internal sealed unsafe class FileMappingWindow : MemoryManager<byte>
{
    private readonly FileMapping _mapping;
    private readonly long _start;
    private readonly int _length;

    public FileMappingWindow(FileMapping mapping, long start, int length)
    {
        _mapping = mapping;
        _start = start;
        _length = length;
    }

    /// <summary>[start, start+length) of the window, without a call into the mapping (no allocation).</summary>
    public ReadOnlyMemory<byte> Slice(int start, int length) => CreateMemory(start, length);

    /// <inheritdoc/>
    public override Span<byte> GetSpan() => _mapping.GetSpan(_start, _length);

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);

        // With this manager as the pinnable, disposing the handle calls Unpin.
        return new MemoryHandle(_mapping.Pin(_start + elementIndex), default, this);
    }

    /// <inheritdoc/>
    public override void Unpin() => _mapping.ReleasePin();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        // The mapping's owner (BlockFileView) disposes it; a window is only a view of it.
    }
}
