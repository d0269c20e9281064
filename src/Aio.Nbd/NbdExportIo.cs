namespace Aio.Nbd;

/// <summary>
/// The export I/O phase: reads, writes, zeroes, trims and flushes of already-validated ranges, through the loop's
/// <see cref="BlockFile"/>. Unaligned requests on an O_DIRECT export use an aligned buffer that covers the range;
/// writes read-modify-write their partial first and last blocks, kept from racing other writes of those blocks by the
/// export's <see cref="NbdWriteTracker"/>.
/// </summary>
internal static class NbdExportIo
{
    private const int ZeroChunk = 1024 * 1024;

    /// <summary>The aligned range around [offset, offset+length) and where the request starts in it.</summary>
    public static (long Start, int Length, int Skip) Span(NbdExport export, long offset, long length)
    {
        long a = export.Alignment;
        long start = offset - (offset % a);
        long end = offset + length;
        long alignedEnd = end % a == 0 ? end : end + (a - (end % a));
        return (start, (int)(alignedEnd - start), (int)(offset - start));
    }

    /// <summary>
    /// The most buffer one WRITE_ZEROES of <paramref name="length"/> bytes can hold at a time: where the file system
    /// cannot zero a range (or the client asked for no hole where only a punch would do), the zeroes are written one
    /// pooled piece at a time, and a piece of an O_DIRECT export (or one written while a punch runs) is held across
    /// the write's await. At most <see cref="ZeroChunk"/> plus a block of alignment slack on each side.
    /// </summary>
    public static int ZeroingBufferBound(NbdExport export, long length)
        => (int)Math.Min(ZeroChunk, length) + (2 * (export.Alignment - 1));

    /// <summary>Whether [offset, offset+length) is whole blocks (no read-modify-write, no bounce).</summary>
    public static bool IsAligned(NbdExport export, long offset, long length)
        => offset % export.Alignment == 0 && length % export.Alignment == 0;

    /// <summary>
    /// A write of a page-cache export: pwrite on the loop, not a ring request. ext4 cannot do a buffered write without
    /// blocking (no NOWAIT), so io_uring hands every one to an io-wq worker and the loop waits for its completion: a
    /// thread hop per 4 KiB write that cost a fifth of the requests/s. pwrite is a copy into the page cache; it blocks
    /// only when the kernel throttles a writer for dirty pages (and then the ring's worker would wait too), or while a
    /// punch holds the inode's lock, which is why callers ask <see cref="NbdExport.WritesOnLoop"/> first.
    /// </summary>
    public static void WriteToPageCache(BlockFile file, ReadOnlySpan<byte> data, long offset)
        => RandomAccess.Write(file.Handle, data, offset);

    /// <summary>Reads [offset, offset+length) into <paramref name="buffer"/> at <see cref="Span"/>'s Skip.</summary>
    public static async ValueTask ReadAsync(NbdExport export, BlockFile file, AlignedBuffer buffer, long offset, int length)
    {
        var (start, spanLength, _) = Span(export, offset, length);
        await file.ReadAsync(buffer.Memory[..spanLength], start).ConfigureAwait(true);
    }

    /// <summary>Writes the payload that sits in <paramref name="buffer"/> at <see cref="Span"/>'s Skip.</summary>
    public static async ValueTask WriteAsync(NbdExport export, BlockFile file, AlignedBuffer buffer, long offset, int length, bool fua)
    {
        var (start, spanLength, skip) = Span(export, offset, length);
        bool partial = skip != 0 || spanLength - skip - length != 0;
        var tracked = export.TracksWrites ? await export.Writes.BeginAsync(start, start + spanLength, serialising: partial).ConfigureAwait(true) : null;
        try
        {
            await WriteCoreAsync(export, file, buffer, offset, length).ConfigureAwait(true);
        }
        finally
        {
            if (tracked is not null)
            {
                export.Writes.End(tracked);
            }
        }

        if (fua)
        {
            await file.FlushAsync().ConfigureAwait(true);
        }
    }

    /// <summary>WRITE_ZEROES: a punched hole (or a zeroed range with NO_HOLE), else written zeroes. Returns an NBD error or 0.</summary>
    public static async ValueTask<uint> ZeroAsync(NbdExport export, BlockFile file, long offset, long length, bool noHole, bool fastZero, bool fua)
    {
        // Serialising: the kernel zeroes the partial edge blocks in place, which a read-modify-write in flight would undo.
        var tracked = await BeginSerialisingAsync(export, offset, length).ConfigureAwait(true);
        try
        {
            bool zeroed;
            export.BeginSpaceChange();
            try
            {
                // A block device without a write-zeroes command "zeroes a range" by writing zero pages: not fast, so
                // FAST_ZERO fails there unless the hole punch (never a fallback write on a device) did it.
                // On the ring, not on the loop: a gibibyte punched in a cached file takes ~60 ms of page dropping,
                // and a device without a write-zeroes command has the kernel write the zeroes.
                zeroed = (!noHole && await file.TryPunchHoleAsync(offset, length).ConfigureAwait(true))
                    || (!(fastZero && file.ZeroRangeMayWrite) && await file.TryZeroRangeAsync(offset, length).ConfigureAwait(true));
            }
            finally
            {
                // After the punch, so that a run of data cached before it is forgotten (the range may be a hole now).
                export.ForgetAllocation();
                export.EndSpaceChange();
            }

            if (!zeroed)
            {
                if (fastZero)
                {
                    return NbdProtocol.ENOTSUP;
                }

                long done = 0;
                while (done < length)
                {
                    int piece = (int)Math.Min(ZeroChunk, length - done);
                    var (_, pieceSpan, _) = Span(export, offset + done, piece);
                    var buffer = NbdBufferPool.Rent(pieceSpan);
                    try
                    {
                        buffer.Memory.Span[..pieceSpan].Clear();

                        // Under this request's own registration, which covers every piece.
                        await WriteCoreAsync(export, file, buffer, offset + done, piece).ConfigureAwait(true);
                    }
                    finally
                    {
                        NbdBufferPool.Return(buffer);
                    }

                    done += piece;
                    if (done < length)
                    {
                        // A page-cache write completes synchronously on the loop: without a turn between pieces, up to
                        // 4 GiB of zeroes would be written before the loop's other connections got theirs.
                        await Task.Yield();
                    }
                }
            }
        }
        finally
        {
            End(export, tracked);
        }

        if (fua)
        {
            await file.FlushAsync().ConfigureAwait(true);
        }

        return 0;
    }

    /// <summary>TRIM: a hint; punches a hole where the file system can.</summary>
    public static async ValueTask TrimAsync(NbdExport export, BlockFile file, long offset, long length, bool fua)
    {
        var tracked = await BeginSerialisingAsync(export, offset, length).ConfigureAwait(true);
        try
        {
            // A hint: a file system that cannot punch holes keeps the data, which is allowed.
            export.BeginSpaceChange();
            try
            {
                _ = await file.TryPunchHoleAsync(offset, length).ConfigureAwait(true);
            }
            finally
            {
                export.EndSpaceChange();
            }
        }
        finally
        {
            export.ForgetAllocation();
            End(export, tracked);
        }

        if (fua)
        {
            await file.FlushAsync().ConfigureAwait(true);
        }
    }

    private static async ValueTask FillFromFileAsync(BlockFile file, AlignedBuffer target, long spanStart, int blockStart, int keepStart, int keepEnd, int alignment)
    {
        // Reads one whole block and keeps the bytes of it that the request does not cover.
        var scratch = NbdBufferPool.Rent(alignment);
        try
        {
            await file.ReadAsync(scratch.Memory[..alignment], spanStart + blockStart).ConfigureAwait(true);
            scratch.Memory.Span[(keepStart - blockStart)..(keepEnd - blockStart)].CopyTo(target.Memory.Span[keepStart..keepEnd]);
        }
        finally
        {
            NbdBufferPool.Return(scratch);
        }
    }

    private static async ValueTask WriteCoreAsync(NbdExport export, BlockFile file, AlignedBuffer buffer, long offset, int length)
    {
        var (start, spanLength, skip) = Span(export, offset, length);
        int tail = spanLength - skip - length;
        if (skip == 0 && tail == 0)
        {
            if (export.WritesOnLoop)
            {
                WriteToPageCache(file, buffer.Memory.Span[..spanLength], start);
                return;
            }

            await file.WriteAsync(buffer.Memory[..spanLength], start).ConfigureAwait(true);
            return;
        }

        int a = export.Alignment;
        if (skip != 0)
        {
            await FillFromFileAsync(file, buffer, start, 0, 0, skip, a).ConfigureAwait(true);
        }

        if (tail != 0)
        {
            await FillFromFileAsync(file, buffer, start, spanLength - a, spanLength - tail, spanLength, a).ConfigureAwait(true);
        }

        await file.WriteAsync(buffer.Memory[..spanLength], start).ConfigureAwait(true);
        if (start + spanLength > export.Size)
        {
            // The aligned write of the partial last block made the file longer than the export: cut it back (on the
            // pool while a punch holds the inode lock, which ftruncate takes).
            if (export.ChangingSpace)
            {
                await Task.Run(export.RestoreSize).ConfigureAwait(true);
            }
            else
            {
                export.RestoreSize();
            }
        }
    }

    private static ValueTask<NbdWriteTracker.Entry?> BeginSerialisingAsync(NbdExport export, long offset, long length)
    {
        if (!export.TracksWrites)
        {
            return new ValueTask<NbdWriteTracker.Entry?>((NbdWriteTracker.Entry?)null);
        }

        // In 64 bits (Span's length is an int): a TRIM or WRITE_ZEROES may cover up to 4 GiB.
        long a = export.Alignment;
        long end = offset + length;
        var begun = export.Writes.BeginAsync(offset - (offset % a), end % a == 0 ? end : end + (a - (end % a)), serialising: true);
        return begun.IsCompletedSuccessfully ? new ValueTask<NbdWriteTracker.Entry?>(begun.Result) : Await(begun);

        static async ValueTask<NbdWriteTracker.Entry?> Await(ValueTask<NbdWriteTracker.Entry> begun) => await begun.ConfigureAwait(true);
    }

    private static void End(NbdExport export, NbdWriteTracker.Entry? tracked)
    {
        if (tracked is not null)
        {
            export.Writes.End(tracked);
        }
    }
}
