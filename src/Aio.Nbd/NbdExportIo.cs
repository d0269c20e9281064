namespace Aio.Nbd;

/// <summary>
/// The export I/O phase: reads, writes, zeroes, trims and flushes of already-validated ranges, through the loop's
/// <see cref="BlockFile"/>. Unaligned requests on an O_DIRECT export use an aligned buffer that covers the range;
/// writes read-modify-write their partial first and last blocks under those blocks' locks.
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
        int tail = spanLength - skip - length;
        if (skip == 0 && tail == 0)
        {
            await file.WriteAsync(buffer.Memory[..spanLength], start).ConfigureAwait(true);
        }
        else
        {
            var locks = await LockEdgesAsync(export, start, spanLength).ConfigureAwait(true);
            try
            {
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
                    // The aligned write of the partial last block made the file longer than the export: cut it back.
                    export.RestoreSize();
                }
            }
            finally
            {
                Unlock(locks);
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
        bool zeroed;
        var locks = await LockEdgesAsync(export, offset, length).ConfigureAwait(true);
        try
        {
            zeroed = (!noHole && file.TryPunchHole(offset, length)) || file.TryZeroRange(offset, length);
        }
        finally
        {
            // After the punch, so that a run of data cached before it is forgotten (the range may be a hole now).
            export.ForgetAllocation();
            Unlock(locks);
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
                    await WriteAsync(export, file, buffer, offset + done, piece, fua: false).ConfigureAwait(true);
                }
                finally
                {
                    NbdBufferPool.Return(buffer);
                }

                done += piece;
            }
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
        var locks = await LockEdgesAsync(export, offset, length).ConfigureAwait(true);
        try
        {
            // A hint: a file system that cannot punch holes keeps the data, which is allowed.
            _ = file.TryPunchHole(offset, length);
        }
        finally
        {
            export.ForgetAllocation();
            Unlock(locks);
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

    private static ValueTask<(SemaphoreSlim First, SemaphoreSlim? Second)> LockEdgesAsync(NbdExport export, long offset, long length)
    {
        long last = Math.Max(offset, offset + length - 1);
        return LockEdgesAsync(export, export.BlockLockIndex(offset), export.BlockLockIndex(last));
    }

    private static async ValueTask<(SemaphoreSlim First, SemaphoreSlim? Second)> LockEdgesAsync(NbdExport export, int firstIndex, int secondIndex)
    {
        // Always in stripe order, so two requests sharing both stripes cannot deadlock.
        if (firstIndex > secondIndex)
        {
            (firstIndex, secondIndex) = (secondIndex, firstIndex);
        }

        var first = export.BlockLock(firstIndex);
        await first.WaitAsync().ConfigureAwait(true);
        if (firstIndex == secondIndex)
        {
            return (first, null);
        }

        var second = export.BlockLock(secondIndex);
        await second.WaitAsync().ConfigureAwait(true);
        return (first, second);
    }

    private static void Unlock((SemaphoreSlim First, SemaphoreSlim? Second) locks)
    {
        locks.Second?.Release();
        locks.First.Release();
    }
}
