using System.Collections.Concurrent;

namespace Aio.Nbd;

/// <summary>
/// One export shared by every loop: its size, fixed when it was opened, one <see cref="BlockFile"/> per loop (the
/// same inode, so an fdatasync on any of them covers writes made through all: multi-conn), and the tracker that keeps
/// read-modify-writes of partial blocks from racing other writes of those blocks.
/// </summary>
internal sealed class NbdExport : IDisposable
{
    private readonly ConcurrentDictionary<AioContext, BlockFile> _files = new();
    private readonly BlockFile _first;

    // The last run of data GetExtents found (QEMU's block-status cache): a structured READ asks for the allocation of
    // its range on every request, which without it cost one or two lseek calls each. Shared by every loop; replaced
    // whole, never changed in place.
    private DataRun? _knownData;

    // Punches and zero-ranges in flight on any loop (see ChangingSpace).
    private int _spaceChanges;

    /// <summary>The longest extent <see cref="GetExtents"/> reports (as data, without lseek) while <see cref="ChangingSpace"/>.</summary>
    internal const long ChangingSpaceExtent = 1 << 20;

    private NbdExport(NbdExportOptions options, BlockFile first, long size)
    {
        Options = options;
        _first = first;
        Size = size;
        Alignment = first.Alignment;
    }

    public NbdExportOptions Options { get; }

    /// <summary>
    /// A page-cache export's mapping, for READs answered straight from the page cache (null for O_DIRECT, whose data
    /// must not come from the page cache, or where the file cannot be mapped).
    /// </summary>
    public BlockFileView? View { get; private init; }

    public string Name => Options.Name;

    public long Size { get; }

    /// <summary>O_DIRECT alignment of offsets and lengths (1 with the page cache): requests off it are read-modify-written.</summary>
    public int Alignment { get; }

    public bool ReadOnly => Options.ReadOnly;

    /// <summary>
    /// Opens the file on <paramref name="ctx"/> (throws <see cref="AioException"/> if it is unusable, <see cref="ArgumentException"/>
    /// if O_DIRECT wants buffers aligned beyond <see cref="NbdBufferPool.Alignment"/>).
    /// </summary>
    public static NbdExport Open(AioContext ctx, NbdExportOptions options)
    {
        var file = BlockFile.Open(ctx, options.Path, new BlockFileOptions { Direct = options.Direct, ReadOnly = options.ReadOnly });
        try
        {
            if (file.MemoryAlignment > NbdBufferPool.Alignment)
            {
                // No device known to Linux asks this (DMA alignment stays below a page), but the payload buffers could
                // not meet it: every request would fail.
                throw new ArgumentException(
                    $"{options.Path}: O_DIRECT wants buffers aligned to {file.MemoryAlignment} bytes, more than the {NbdBufferPool.Alignment} of the server's buffers; serve it through the page cache.",
                    nameof(options));
            }

            var export = new NbdExport(options, file, file.Length) { View = options.Direct ? null : TryMapView(file) };
            export._files[ctx] = file;
            return export;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The export's file for requests on <paramref name="ctx"/> (opened for that loop's first connection).</summary>
    public BlockFile FileFor(AioContext ctx)
        => _files.TryGetValue(ctx, out var file) ? file : _files.GetOrAdd(ctx, ReopenOn);

    // The first file's inode again, through its /proc/self/fd link rather than the path: a path renamed, replaced or
    // deleted since the export was opened would give this loop another file (or none), and then its reads, writes and
    // flushes would not be the ones the other loops and the allocation lookups see. Without /proc, the path.
    private BlockFile ReopenOn(AioContext ctx)
    {
        var options = new BlockFileOptions { Direct = Options.Direct, ReadOnly = Options.ReadOnly };
        if (!Directory.Exists("/proc/self/fd"))
        {
            return BlockFile.Open(ctx, Options.Path, options);
        }

        // Under a reference: once the export is disposed the number may name another file (AddRef then throws).
        var handle = _first.Handle;
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            string link = "/proc/self/fd/" + handle.DangerousGetHandle().ToInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
            return BlockFile.Open(ctx, link, options);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }

    /// <summary>The writes in flight (shared by every connection and loop: multi-conn clients write through several).</summary>
    public NbdWriteTracker Writes { get; } = new();

    /// <summary>Whether writes must be tracked: only an O_DIRECT export rewrites whole blocks around a partial one.</summary>
    public bool TracksWrites => Alignment > 1;

    /// <summary>
    /// True while a hole punch or a zero-range runs on this export (on an io-wq worker or a pool thread). The file
    /// system holds the inode's lock for the whole of it (tens of milliseconds for a gibibyte of cached pages), so a
    /// loop must not make the calls that wait for that lock meanwhile: a page-cache pwrite, an lseek for the
    /// allocation, a readahead for CACHE, an ftruncate. Those take the ring or the pool, answer "data"
    /// (<see cref="GetExtents"/>) or are skipped, until it has ended. Best effort: a call checked just before a punch
    /// starts on another loop still waits for it, and so does a READ of the very pages being dropped (from the mapping
    /// or through the ring, whose first try of a buffered read runs readahead on the loop).
    /// </summary>
    public bool ChangingSpace => Volatile.Read(ref _spaceChanges) != 0;

    /// <summary>
    /// Whether a WRITE is a pwrite on the loop (<see cref="NbdExportIo.WriteToPageCache"/>) right now: a page-cache
    /// export with no punch running. Otherwise the write is a ring request.
    /// </summary>
    public bool WritesOnLoop => !Options.Direct && !ChangingSpace;

    /// <summary>Marks a punch or zero-range as started (<see cref="ChangingSpace"/>); pair with <see cref="EndSpaceChange"/>.</summary>
    public void BeginSpaceChange() => Interlocked.Increment(ref _spaceChanges);

    /// <summary>Marks a punch or zero-range as ended.</summary>
    public void EndSpaceChange() => Interlocked.Decrement(ref _spaceChanges);

    /// <summary>Truncates the file back to the export size after an aligned O_DIRECT write of the partial last block grew it.</summary>
    public void RestoreSize() => RandomAccess.SetLength(_first.Handle, Size);

    /// <summary>
    /// Appends the allocation extents of [<paramref name="offset"/>, <paramref name="end"/>) to <paramref name="extents"/>
    /// (<see cref="BlockFile.GetExtent"/>: a file system without allocation information is all data), at most
    /// <paramref name="max"/> of them.
    /// </summary>
    public void GetExtents(long offset, long end, int max, List<NbdExtent> extents)
    {
        if (ChangingSpace && offset < end && max > 0)
        {
            // lseek would wait for the punch's inode lock. Data is always a correct answer (reads return what is there);
            // at most a mebibyte of it (a reply may describe less than was asked), so that a client mapping the export
            // asks again for the rest and, once the punch has ended, sees its holes.
            extents.Add(new NbdExtent(offset, Math.Min(end - offset, ChangingSpaceExtent), Hole: false));
            return;
        }

        long pos = offset;
        while (pos < end && extents.Count < max)
        {
            if (Volatile.Read(ref _knownData) is { } known && known.Start <= pos && pos < known.End)
            {
                // Inside a run of data seen before: no system call (a structured READ asks this for every request).
                long stop = Math.Min(known.End, end);
                extents.Add(new NbdExtent(pos, stop - pos, Hole: false));
                pos = stop;
                continue;
            }

            // Ask for the whole run from here (up to the export's end), so that the cache covers what follows too.
            var extent = _first.GetExtent(pos, Size - pos);
            if (!extent.IsHole)
            {
                Volatile.Write(ref _knownData, new DataRun(extent.Offset, extent.Offset + extent.Length));
            }

            long length = Math.Min(extent.Length, end - pos);
            extents.Add(new NbdExtent(pos, length, extent.IsHole));
            pos += length;
        }
    }

    /// <summary>
    /// A TRIM or WRITE_ZEROES may have punched holes: forget the cached run of data. (Writes only turn holes into data,
    /// and calling a hole data is never wrong, so nothing else invalidates it; a run cached by a lookup that raced with
    /// the punch is such a harmless answer too.)
    /// </summary>
    public void ForgetAllocation() => Volatile.Write(ref _knownData, null);

    /// <summary>
    /// posix_fadvise(WILLNEED): CACHE. Skipped while <see cref="ChangingSpace"/>: readahead takes the mapping's
    /// invalidate lock, which a punch holds, and CACHE is only a hint.
    /// </summary>
    public void Prefetch(long offset, long length)
    {
        if (!ChangingSpace)
        {
            _first.Prefetch(offset, length);
        }
    }

    public void Dispose()
    {
        // Unmapped once the last send of a slice of it is done.
        View?.Dispose();
        foreach (var file in _files.Values)
        {
            file.Dispose();
        }
    }

    private static BlockFileView? TryMapView(BlockFile file)
    {
        try
        {
            return file.MapView();
        }
        catch (AioException)
        {
            // A file or device that cannot be mapped: every READ goes through the ring.
            return null;
        }
    }

    /// <summary>A run of data [<see cref="Start"/>, <see cref="End"/>) of the file, as last seen.</summary>
    private sealed record DataRun(long Start, long End);
}
