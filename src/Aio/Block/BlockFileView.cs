using Aio.Interop;

namespace Aio;

/// <summary>
/// A read-only memory mapping of a <see cref="BlockFile"/> (its size when it was mapped): slices of the page cache
/// that a send hands to the kernel without a copy into a buffer first. A server answering a read from the page cache
/// otherwise copies the data twice (the file into its buffer, the buffer into the socket); through a view, once.
/// </summary>
/// <remarks>
/// Reading a page that is not in memory waits for the disk in whatever thread touches it (the loop's, for a send
/// started on it): ask <see cref="IsResident"/> first and read with <see cref="BlockFile.ReadAsync"/> otherwise.
/// The data is the file's at the moment it is read, not at the moment of <see cref="Slice"/>: a write that lands
/// before a send copies a slice is what that send carries. A slice is valid while the view is not disposed; a pinned
/// slice (a send in flight) keeps the mapping until its pin is released, so <see cref="Dispose"/> never unmaps memory
/// the kernel is reading; while a pin is held, the slice can be pinned again after Dispose. A view that is never
/// disposed stays mapped until the process ends. If the file shrinks under the view, the kernel fails a send of the
/// missing pages with EFAULT; code that reads a slice's span itself would get SIGBUS, so spans are for data known to
/// be inside the file.
/// </remarks>
public sealed class BlockFileView : IDisposable
{
    /// <summary>The longest slice: a window of the mapping overlaps the next by this much, so a slice never straddles two.</summary>
    public const int MaxSliceLength = 64 * 1024 * 1024;

    // A memory's offsets are ints: the mapping is cut into windows of this stride, each reaching MaxSliceLength into
    // the next, so that any slice lies wholly in the window of its first byte.
    private const long WindowStride = 1L << 30;

    private readonly FileMapping _mapping;
    private readonly FileMappingWindow?[] _windows;

    internal BlockFileView(FileMapping mapping)
    {
        _mapping = mapping;
        _windows = new FileMappingWindow?[(mapping.Length + WindowStride - 1) / WindowStride];
    }

    /// <summary>The mapped length: the file's size when the view was made.</summary>
    public long Length => _mapping.Length;

    /// <summary>Whether the mapping is gone (disposed, and no slice pinned any more). For tests.</summary>
    internal bool IsUnmapped => _mapping.IsUnmapped;

    /// <summary>
    /// Whether every page of [<paramref name="offset"/>, <paramref name="offset"/>+<paramref name="length"/>) is in
    /// memory (mincore): a hint, true now, that reading the range will not wait for the disk. Always false for a file
    /// the process neither owns nor opened for writing (unless it runs as root): mincore reports every page of such a
    /// file as resident, so nothing is known.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the view.</exception>
    /// <exception cref="ObjectDisposedException">The view was disposed.</exception>
    /// <exception cref="AioException">mincore failed.</exception>
    public bool IsResident(long offset, long length)
    {
        CheckRange(offset, length);
        return _mapping.IsResident(offset, length);
    }

    /// <summary>The bytes [<paramref name="offset"/>, <paramref name="offset"/>+<paramref name="length"/>) of the file, in place.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the view, or is longer than <see cref="MaxSliceLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The view was disposed.</exception>
    public ReadOnlyMemory<byte> Slice(long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxSliceLength);
        CheckRange(offset, length);
        if (length == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        long index = offset / WindowStride;
        var window = _windows[index] ?? CreateWindow(index);
        return window.Slice((int)(offset - (index * WindowStride)), length);
    }

    /// <summary>Refuses further slices at once; unmaps now, or when the last slice pinned by a send is released.</summary>
    public void Dispose() => _mapping.Dispose();

    private void CheckRange(long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, Length - length, nameof(offset));
        ObjectDisposedException.ThrowIf(_mapping.IsDisposed, this);
    }

    private FileMappingWindow CreateWindow(long index)
    {
        long start = index * WindowStride;
        int length = (int)Math.Min(WindowStride + MaxSliceLength, Length - start);

        // Racing creators make equal windows: either may win, both are the same view of the mapping.
        var window = new FileMappingWindow(_mapping, start, length);
        return Interlocked.CompareExchange(ref _windows[index], window, null) ?? window;
    }
}
