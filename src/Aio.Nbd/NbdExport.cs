using System.Collections.Concurrent;
using Aio.Interop;

namespace Aio.Nbd;

/// <summary>
/// One export shared by every loop: its size, fixed when it was opened, one <see cref="BlockFile"/> per loop (the
/// same inode, so an fdatasync on any of them covers writes made through all: multi-conn), and the per-block locks
/// that serialise read-modify-write of partial blocks.
/// </summary>
internal sealed class NbdExport : IDisposable
{
    private const int LockStripes = 256;
    private readonly ConcurrentDictionary<AioContext, BlockFile> _files = new();
    private readonly SemaphoreSlim[] _blockLocks = new SemaphoreSlim[LockStripes];
    private readonly BlockFile _first;

    private NbdExport(NbdExportOptions options, BlockFile first, long size)
    {
        Options = options;
        _first = first;
        Size = size;
        Alignment = first.Alignment;
        for (int i = 0; i < _blockLocks.Length; i++)
        {
            _blockLocks[i] = new SemaphoreSlim(1, 1);
        }
    }

    public NbdExportOptions Options { get; }

    public string Name => Options.Name;

    public long Size { get; }

    /// <summary>O_DIRECT alignment (1 with the page cache).</summary>
    public int Alignment { get; }

    public bool ReadOnly => Options.ReadOnly;

    /// <summary>Opens the file on <paramref name="ctx"/> (throws <see cref="AioException"/> if it is unusable).</summary>
    public static NbdExport Open(AioContext ctx, NbdExportOptions options)
    {
        var file = BlockFile.Open(ctx, options.Path, new BlockFileOptions { Direct = options.Direct, ReadOnly = options.ReadOnly });
        try
        {
            var export = new NbdExport(options, file, file.Length);
            export._files[ctx] = file;
            return export;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The export's file for requests on <paramref name="ctx"/>.</summary>
    public BlockFile FileFor(AioContext ctx)
        => _files.TryGetValue(ctx, out var file) ? file : _files.GetOrAdd(ctx, c => BlockFile.Open(c, Options.Path, new BlockFileOptions { Direct = Options.Direct, ReadOnly = Options.ReadOnly }));

    /// <summary>The lock stripe of the block holding byte <paramref name="offset"/>.</summary>
    public int BlockLockIndex(long offset) => (int)((ulong)(offset / Alignment) % LockStripes);

    /// <summary>The lock stripe <paramref name="index"/>.</summary>
    public SemaphoreSlim BlockLock(int index) => _blockLocks[index];

    /// <summary>The fd of the first file with a reference held (a concurrent Dispose cannot close it); pair with <see cref="ReleaseFd"/>.</summary>
    public int AcquireFd()
    {
        bool added = false;
        _first.Handle.DangerousAddRef(ref added);
        return (int)_first.Handle.DangerousGetHandle();
    }

    /// <summary>Releases the reference taken by <see cref="AcquireFd"/>.</summary>
    public void ReleaseFd() => _first.Handle.DangerousRelease();

    /// <summary>Truncates the file back to the export size after an aligned O_DIRECT write of the partial last block grew it.</summary>
    public void RestoreSize() => RandomAccess.SetLength(_first.Handle, Size);

    /// <summary>
    /// Appends the allocation extents of [<paramref name="offset"/>, <paramref name="end"/>) to <paramref name="extents"/>
    /// (SEEK_DATA/SEEK_HOLE; a file system without them is all data), at most <paramref name="max"/> of them.
    /// </summary>
    public void GetExtents(long offset, long end, int max, List<NbdExtent> extents)
    {
        int fd = AcquireFd();
        try
        {
            long pos = offset;
            while (pos < end && extents.Count < max)
            {
                long data = Libc.LSeek(fd, pos, Libc.SEEK_DATA);
                if (data < 0)
                {
                    // ENXIO: no data from pos to the end of the file; anything else: no sparse-file support.
                    bool hole = Errors.LastErrno == Libc.ENXIO;
                    extents.Add(new NbdExtent(pos, end - pos, hole));
                    break;
                }

                if (data > pos)
                {
                    long holeEnd = Math.Min(data, end);
                    extents.Add(new NbdExtent(pos, holeEnd - pos, Hole: true));
                    pos = holeEnd;
                    continue;
                }

                long next = Libc.LSeek(fd, pos, Libc.SEEK_HOLE);
                long dataEnd = next <= pos ? end : Math.Min(next, end);
                extents.Add(new NbdExtent(pos, dataEnd - pos, Hole: false));
                pos = dataEnd;
            }
        }
        finally
        {
            ReleaseFd();
        }
    }

    /// <summary>fallocate; returns 0 or the errno.</summary>
    public int FAllocate(int mode, long offset, long length)
    {
        int fd = AcquireFd();
        try
        {
            return Libc.FAllocate(fd, mode | Libc.FALLOC_FL_KEEP_SIZE, offset, length) == 0 ? 0 : Errors.LastErrno;
        }
        finally
        {
            ReleaseFd();
        }
    }

    /// <summary>posix_fadvise(WILLNEED): CACHE.</summary>
    public void Prefetch(long offset, long length)
    {
        int fd = AcquireFd();
        try
        {
            _ = Libc.PosixFAdvise(fd, offset, length, Libc.POSIX_FADV_WILLNEED);
        }
        finally
        {
            ReleaseFd();
        }
    }

    public void Dispose()
    {
        foreach (var file in _files.Values)
        {
            file.Dispose();
        }
    }
}
