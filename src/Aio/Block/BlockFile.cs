using Aio.Async;
using Aio.Block;
using Aio.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aio;

/// <summary>
/// A file or block device for storage code (QEMU file-posix with aio=io_uring or aio=threads). Reads always return
/// the full length (past the end of the file, zero-filled); writes write everything or throw.
/// </summary>
/// <remarks>
/// Every request holds a reference to the file from the moment it is accepted until it has completed, so
/// <see cref="Dispose"/> never closes the fd under a request in flight: the last one to finish closes it. After
/// Dispose, every method throws <see cref="ObjectDisposedException"/>; the properties fixed at open (<see cref="Handle"/>,
/// <see cref="Alignment"/>, <see cref="Engine"/>) still answer.
/// </remarks>
public sealed partial class BlockFile : IAsyncDisposable, IDisposable
{
    private const int DefaultDirectAlignment = 4096;
    private readonly AioContext _context;
    private readonly SafeFileHandle _handle;
    private readonly bool _direct;
    private readonly bool _readOnly;
    private readonly FixedFileSlot? _fixedSlot;
    private int _disposed;

    private BlockFile(AioContext context, SafeFileHandle handle, BlockFileOptions options, BlockEngine engine, int alignment, int memoryAlignment)
    {
        _context = context;
        _handle = handle;
        _direct = options.Direct;
        _readOnly = options.ReadOnly;
        Engine = engine;
        Alignment = alignment;
        MemoryAlignment = memoryAlignment;
        if (engine == BlockEngine.IoUring)
        {
            _fixedSlot = FixedFileSlot.Register(context, handle);
        }
    }

    /// <summary>The file's current size in bytes (BLKGETSIZE64 for a block device).</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public long Length
    {
        get
        {
            ThrowIfDisposed();

            // A reference for the duration of the call: a concurrent Dispose must not close the fd (and let its number
            // be reused by another open) between reading the number and fstat.
            bool added = false;
            _handle.DangerousAddRef(ref added);
            try
            {
                return Libc.FileOrDeviceSize((int)_handle.DangerousGetHandle());
            }
            finally
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Alignment that satisfies every O_DIRECT rule at once, for buffers, offsets and lengths: the larger of the kernel's
    /// memory and offset alignments (4096 if it does not say), 1 without <see cref="BlockFileOptions.Direct"/>. Offsets
    /// and lengths must be multiples of it; buffers need only <see cref="MemoryAlignment"/>.
    /// </summary>
    public int Alignment { get; }

    /// <summary>
    /// Required alignment of a buffer's address: the kernel's O_DIRECT memory alignment (statx <c>stx_dio_mem_align</c>;
    /// 4096 if it does not say), which may be smaller than <see cref="Alignment"/> (a device with 8 KiB logical blocks
    /// takes 8 KiB offsets into 512-byte-aligned buffers); 1 without <see cref="BlockFileOptions.Direct"/>.
    /// </summary>
    public int MemoryAlignment { get; }

    /// <summary>The engine in force.</summary>
    public BlockEngine Engine { get; }

    /// <summary>Home thread: the slot requests name the file by in the ring's registered file table, or -1 (tests).</summary>
    internal int FixedSlot => _fixedSlot is { } slot && slot.TryGet(out int index) ? index : -1;

    /// <summary>The underlying handle (for diagnostics and tools; do not close it).</summary>
    public SafeFileHandle Handle => _handle;

    /// <summary>Opens <paramref name="path"/> for I/O on <paramref name="ctx"/>.</summary>
    /// <remarks>
    /// open(2) failures map to the exceptions File.OpenHandle throws for the same errno; each carries an
    /// <see cref="AioException"/> with the errno as its inner exception. Read and write failures are
    /// <see cref="AioException"/>s: <see cref="IOException"/>s whose <see cref="Exception.HResult"/> and
    /// <see cref="AioException.Errno"/> are the errno (ENOSPC, EFBIG, EIO, ...).
    /// </remarks>
    /// <exception cref="FileNotFoundException">The file does not exist (ENOENT, its directory exists).</exception>
    /// <exception cref="DirectoryNotFoundException">A directory on the path does not exist (ENOENT, ENOTDIR).</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied (EACCES, EPERM), or the path is a directory (EISDIR).</exception>
    /// <exception cref="PathTooLongException">The path or one of its components is too long (ENAMETOOLONG).</exception>
    /// <exception cref="AioException">open(2) failed otherwise (EINVAL for O_DIRECT on a file system without it, EROFS, ELOOP, ...).</exception>
    /// <exception cref="NotSupportedException"><see cref="BlockEngine.IoUring"/> was requested but the context has no io_uring.</exception>
    public static BlockFile Open(AioContext ctx, string path, BlockFileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ctx.ThrowIfDisposed();
        options ??= new BlockFileOptions();
        var engine = options.Engine switch
        {
            BlockEngine.Auto => ctx.HasIoUring ? BlockEngine.IoUring : BlockEngine.Threads,
            BlockEngine.IoUring when !ctx.HasIoUring => throw new NotSupportedException($"AioContext '{ctx.Name}' has no io_uring for BlockEngine.IoUring."),
            BlockEngine.IoUring or BlockEngine.Threads => options.Engine,
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Engine, "Unknown engine."),
        };

        int flags = (options.ReadOnly ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC | (options.Direct ? Libc.O_DIRECT : 0);
        int fd = Libc.Open(path, flags, 0);
        if (fd < 0)
        {
            throw OpenErrors.ForOpen(Errors.LastErrno, path);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        OpenErrors.ThrowIfDirectory(handle, path);
        int alignment = 1, memoryAlignment = 1;
        if (options.Direct)
        {
            var (memory, offsets) = Libc.DirectIoAlignment(fd);
            if (memory <= 0 || offsets <= 0)
            {
                memory = offsets = DefaultDirectAlignment;
            }

            alignment = Math.Max(memory, offsets);
            memoryAlignment = memory;
        }

        return new BlockFile(ctx, handle, options, engine, alignment, memoryAlignment);
    }

    /// <summary>Reads <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns that length (zero-filled past the end of the file).</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="ArgumentException">With Direct, the offset or length is not a multiple of <see cref="Alignment"/>, or the buffer's address not of <see cref="MemoryAlignment"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative, or offset + length overflows.</exception>
    /// <exception cref="AioException">The kernel failed the read.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default)
        => Submit(buffer, offset, write: false, ct);

    /// <summary>Writes all of <paramref name="buffer"/> at <paramref name="offset"/>; returns its length.</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="ArgumentException">Misaligned with Direct.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative, or offset + length overflows.</exception>
    /// <exception cref="AioException">The kernel failed the write, or made no progress (ENOSPC).</exception>
    /// <exception cref="InvalidOperationException">The file was opened read-only.</exception>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, long offset, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        if (_readOnly)
        {
            throw new InvalidOperationException("The BlockFile was opened read-only.");
        }

        return Submit(System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer), offset, write: true, ct);
    }

    /// <summary>fdatasync: makes written data durable.</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="AioException">The kernel failed the flush.</exception>
    public ValueTask FlushAsync(CancellationToken ct = default)
    {
        ThrowIfDisposed();
        return Engine == BlockEngine.IoUring
            ? _context.FlushAsync(_handle, dataOnly: true, ct)
            : ThreadPoolIo.FlushAsync(_handle, dataOnly: true, ct);
    }

    /// <summary>
    /// Refuses further calls at once and closes the file; requests already accepted keep the fd open until each has
    /// completed (the last one closes it), so none of them ever reads or writes a closed or reused fd. Does not wait.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _fixedSlot?.Release();
            _handle.Dispose();
        }
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private ArgumentException MisalignedDirect(int length, long offset, nint? address) => new(
        $"O_DIRECT needs offset and length aligned to {Alignment} bytes and the buffer's address to {MemoryAlignment} (address {(address is { } a ? $"0x{a:x}" : "not looked at")}, offset {offset}, length {length}).",
        "buffer");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private ValueTask<int> Submit(Memory<byte> buffer, long offset, bool write, CancellationToken ct)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, long.MaxValue - buffer.Length);
        if (_direct && (offset % Alignment != 0 || buffer.Length % Alignment != 0))
        {
            // Misuse before a cancelled token, and before anything is pinned: only the address needs the pin.
            throw MisalignedDirect(buffer.Length, offset, address: null);
        }

        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(ct);
        }

        var pin = buffer.Pin();
        if (_direct)
        {
            nint address = pin.Address();
            if (address % MemoryAlignment != 0)
            {
                pin.Dispose();
                throw MisalignedDirect(buffer.Length, offset, address);
            }
        }

        if (Engine == BlockEngine.Threads)
        {
            return ThreadBlockIo.RunAsync(_handle, buffer, pin, offset, write, _direct ? Alignment : 1, ct);
        }

        return BlockOperation.Rent().Start(_context, new SafeFileHandleRef(_handle), _fixedSlot, buffer, pin, offset, write, _direct ? Alignment : 1, ct);
    }
}
