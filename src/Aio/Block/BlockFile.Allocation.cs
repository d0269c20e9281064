using Aio.Async;
using Aio.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aio;

// Space management of a BlockFile (QEMU file-posix's block-status, discard and write-zeroes): which
// ranges hold data, and giving ranges back or zeroing them without writing buffers.
//
// The synchronous members are system calls made on the calling thread (lseek, fallocate, posix_fadvise), not requests
// on the context's ring; each holds a reference to the file for the duration of the call, so a concurrent Dispose
// cannot close the fd under it. The Async ones run fallocate on the ring (or the pool) and hold the file as every
// request does.
public sealed partial class BlockFile
{
    // ZeroRangeMayWrite's answer once asked: 0 not yet, 1 true, -1 false (one int: a bool? could be read half-written;
    // two threads that both compute it compute the same).
    private int _zeroRangeMayWrite;

    // Async fallocates that ran on the pool rather than on the ring (tests: which path a call took).
    private int _fallocatesOnPool;

    /// <summary>How many <see cref="TryPunchHoleAsync"/>/<see cref="TryZeroRangeAsync"/> calls ran on the thread pool rather than as ring requests.</summary>
    internal int FallocatesOnPool => Volatile.Read(ref _fallocatesOnPool);

    /// <summary>
    /// Describes the bytes at <paramref name="offset"/>: the longest run starting there, at most
    /// <paramref name="maxLength"/> bytes, that is all data or all hole (SEEK_DATA/SEEK_HOLE).
    /// </summary>
    /// <remarks>
    /// Past the end of the file everything is a hole (reads return zeros there). A file system that keeps no
    /// allocation information reports everything as data. The answer describes the file at the time of the call;
    /// concurrent writes, trims or truncation may change it at once.
    /// </remarks>
    /// <param name="offset">Where the run starts (not negative).</param>
    /// <param name="maxLength">The longest run to report (positive).</param>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative, <paramref name="maxLength"/> is not positive, or their sum overflows.</exception>
    /// <exception cref="AioException">lseek failed for another reason than the end of the file or missing support.</exception>
    public BlockExtent GetExtent(long offset, long maxLength)
    {
        ThrowIfDisposed();
        ValidateRange(offset, maxLength, allowEmpty: false);
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            int fd = (int)_handle.DangerousGetHandle();

            // SEEK_HOLE first: inside data (the common case for an image) one call gives the whole run, up to the next
            // hole or the end of the file (which counts as a hole).
            long hole = Libc.LSeek(fd, offset, Libc.SEEK_HOLE);
            if (hole < 0)
            {
                // ENXIO: offset is at or past the end of the file, a hole; EINVAL: no allocation information, all data.
                return NoSeekAnswer(offset, maxLength, Errors.LastErrno, "lseek(SEEK_HOLE)");
            }

            if (hole > offset)
            {
                return new BlockExtent(offset, Math.Min(hole - offset, maxLength), IsHole: false);
            }

            // In a hole: it lasts until the next data.
            long data = Libc.LSeek(fd, offset, Libc.SEEK_DATA);
            if (data < 0)
            {
                // ENXIO: no data from offset to the end of the file.
                return NoSeekAnswer(offset, maxLength, Errors.LastErrno, "lseek(SEEK_DATA)");
            }

            // A concurrent write may have filled the hole meanwhile (data == offset): call the range data, which is
            // always a correct answer (reads return what is there).
            return data > offset
                ? new BlockExtent(offset, Math.Min(data - offset, maxLength), IsHole: true)
                : new BlockExtent(offset, maxLength, IsHole: false);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Deallocates [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>): the range then
    /// reads back as zeros and its whole blocks take no space (fallocate PUNCH_HOLE). The file's length never changes.
    /// </summary>
    /// <returns>True when done (or <paramref name="length"/> is 0); false when the file system or device cannot punch holes.</returns>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="InvalidOperationException">The file was opened read-only.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="length"/> is negative, or their sum overflows.</exception>
    /// <exception cref="AioException">fallocate failed for another reason (EIO, ...).</exception>
    public bool TryPunchHole(long offset, long length)
        => Fallocate(Libc.FALLOC_FL_PUNCH_HOLE, offset, length, "fallocate(PUNCH_HOLE)");

    /// <summary>
    /// Makes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) read back as zeros
    /// without writing them, keeping its space allocated (fallocate ZERO_RANGE), so later writes there cannot fail for
    /// lack of space. The file's length never changes.
    /// </summary>
    /// <returns>
    /// True when done (or <paramref name="length"/> is 0); false when the file system or device cannot (tmpfs, for
    /// example, or a block device range not aligned to its logical block size): write zeros instead.
    /// </returns>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="InvalidOperationException">The file was opened read-only.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="length"/> is negative, or their sum overflows.</exception>
    /// <exception cref="AioException">fallocate failed for another reason (ENOSPC, EIO, ...).</exception>
    public bool TryZeroRange(long offset, long length)
        => Fallocate(Libc.FALLOC_FL_ZERO_RANGE, offset, length, "fallocate(ZERO_RANGE)");

    /// <summary>
    /// <see cref="TryPunchHole"/> without blocking the caller: on the context's ring (IORING_OP_FALLOCATE, which the
    /// kernel runs on an io-wq worker), or on the thread pool with the Threads engine or a ring older than 5.6. A hole
    /// punched in a cached file drops its pages, and a gibibyte of them takes tens of milliseconds: too long for a loop
    /// that serves others.
    /// </summary>
    /// <param name="offset">Where the range starts (not negative).</param>
    /// <param name="length">How many bytes (not negative; 0 does nothing).</param>
    /// <param name="ct">Cancels the request if the kernel has not started it.</param>
    /// <returns>As <see cref="TryPunchHole"/>: true when done, false when the file system or device cannot.</returns>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="InvalidOperationException">The file was opened read-only.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="length"/> is negative, or their sum overflows.</exception>
    /// <exception cref="AioException">fallocate failed for another reason (EIO, ...), thrown by the await; or, on the loop's own thread, the ring refused the request (a full submission queue), thrown by the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> cancelled the request (thrown by the await).</exception>
    /// <remarks>The await also throws <see cref="ObjectDisposedException"/> when the context is disposed with the request in flight.</remarks>
    public ValueTask<bool> TryPunchHoleAsync(long offset, long length, CancellationToken ct = default)
        => FallocateAsync(Libc.FALLOC_FL_PUNCH_HOLE, offset, length, "fallocate(PUNCH_HOLE)", ct);

    /// <summary>
    /// <see cref="TryZeroRange"/> without blocking the caller, as <see cref="TryPunchHoleAsync"/> does it. On a block
    /// device without a write-zeroes command (<see cref="ZeroRangeMayWrite"/>) the kernel writes the zeroes: as slow
    /// as writing them, and now off the caller's thread.
    /// </summary>
    /// <param name="offset">Where the range starts (not negative).</param>
    /// <param name="length">How many bytes (not negative; 0 does nothing).</param>
    /// <param name="ct">Cancels the request if the kernel has not started it.</param>
    /// <returns>As <see cref="TryZeroRange"/>: true when done, false when the file system or device cannot.</returns>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="InvalidOperationException">The file was opened read-only.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="length"/> is negative, or their sum overflows.</exception>
    /// <exception cref="AioException">fallocate failed for another reason (ENOSPC, EIO, ...), thrown by the await; or, on the loop's own thread, the ring refused the request (a full submission queue), thrown by the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> cancelled the request (thrown by the await).</exception>
    /// <remarks>The await also throws <see cref="ObjectDisposedException"/> when the context is disposed with the request in flight.</remarks>
    public ValueTask<bool> TryZeroRangeAsync(long offset, long length, CancellationToken ct = default)
        => FallocateAsync(Libc.FALLOC_FL_ZERO_RANGE, offset, length, "fallocate(ZERO_RANGE)", ct);

    /// <summary>
    /// True when <see cref="TryZeroRange"/> may succeed by writing zeroes, as slowly as writing them: a block device
    /// whose queue has no write-zeroes command (sysfs <c>queue/write_zeroes_max_bytes</c> is 0, or unreadable), for
    /// which the kernel's zero-range falls back to writing zero pages. False for a regular file (its file system
    /// zeroes a range in its metadata, or refuses) and for a device that zeroes in hardware. A caller promising a fast
    /// zero (NBD's FAST_ZERO) must not use zero-range where this is true. Computed once.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public bool ZeroRangeMayWrite
    {
        get
        {
            ThrowIfDisposed();
            int known = Volatile.Read(ref _zeroRangeMayWrite);
            if (known != 0)
            {
                return known > 0;
            }

            (uint Major, uint Minor)? device;
            bool added = false;
            _handle.DangerousAddRef(ref added);
            try
            {
                device = Libc.BlockDeviceNumber((int)_handle.DangerousGetHandle());
            }
            finally
            {
                _handle.DangerousRelease();
            }

            bool mayWrite = device is { } d && !DeviceZeroesInHardware(d.Major, d.Minor);
            Volatile.Write(ref _zeroRangeMayWrite, mayWrite ? 1 : -1);
            return mayWrite;
        }
    }

    private static bool DeviceZeroesInHardware(uint major, uint minor)
    {
        // A whole disk has the queue directory; a partition's is its parent's. /sys/dev/block/M:m is a symlink into
        // /sys/devices; the parent is found on its target (".." on the link itself would be removed as text).
        string node = $"/sys/dev/block/{major}:{minor}";
        string device;
        try
        {
            device = new DirectoryInfo(node).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? node;
        }
        catch (IOException)
        {
            return false;
        }

        foreach (string queue in new[] { Path.Combine(device, "queue"), Path.Combine(Path.GetDirectoryName(device) ?? device, "queue") })
        {
            try
            {
                string text = File.ReadAllText(Path.Combine(queue, "write_zeroes_max_bytes")).Trim();
                return ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong max) && max > 0;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return false;
    }

    /// <summary>
    /// Asks the kernel to start reading [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// into the page cache (posix_fadvise WILLNEED) and returns without waiting for it. A hint: it changes no data, and
    /// a file opened with <see cref="BlockFileOptions.Direct"/> bypasses that cache anyway.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="length"/> is negative, or their sum overflows.</exception>
    /// <exception cref="AioException">posix_fadvise failed.</exception>
    public void Prefetch(long offset, long length)
    {
        ThrowIfDisposed();
        ValidateRange(offset, length, allowEmpty: true);
        if (length == 0)
        {
            // posix_fadvise reads a length of 0 as "to the end of the file"; here it means nothing.
            return;
        }

        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            // posix_* calls return the error number instead of setting errno.
            int error = Libc.PosixFAdvise((int)_handle.DangerousGetHandle(), offset, length, Libc.POSIX_FADV_WILLNEED);
            if (error != 0)
            {
                Errors.Throw(error, "posix_fadvise(WILLNEED)");
            }
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    private static BlockExtent NoSeekAnswer(long offset, long maxLength, int errno, string call) => errno switch
    {
        // No data from offset to the end of the file.
        Libc.ENXIO => new BlockExtent(offset, maxLength, IsHole: true),

        // No SEEK_DATA/SEEK_HOLE here: no allocation information, so all of it counts as data.
        Errno.EINVAL or Errno.EOPNOTSUPP => new BlockExtent(offset, maxLength, IsHole: false),
        _ => throw new AioException(errno, call),
    };

    private static void ValidateRange(long offset, long length, bool allowEmpty)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (allowEmpty)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(length);
        }
        else
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, long.MaxValue - offset);
    }

    private bool Fallocate(int mode, long offset, long length, string call)
    {
        if (!ValidateFallocate(offset, length))
        {
            return true;
        }

        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            return FallocateResult(FallocateNow(_handle, mode, offset, length), call);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    private ValueTask<bool> FallocateAsync(int mode, long offset, long length, string call, CancellationToken ct)
    {
        if (!ValidateFallocate(offset, length))
        {
            return ValueTask.FromResult(true);
        }

        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(ct);
        }

        if (Engine == BlockEngine.IoUring && _context.RingSupports(IoUringOpcode.Fallocate))
        {
            var pending = IoOperation.Rent().Fallocate(_context, _handle, mode | Libc.FALLOC_FL_KEEP_SIZE, offset, length, call, ct);
            // Through the async method even when the request already completed: its failure (EIO, ENOSPC) is thrown
            // by the await, as documented, not by this call.
            return AwaitFallocate(pending, call, ct);
        }

        // The Threads engine, or a ring older than 5.6: the blocking call on the pool, holding the file from now on as
        // a ring request would (a Dispose meanwhile cannot close the fd under it).
        ThreadPoolIo.Hold(_handle, ReadOnlyMemory<byte>.Empty);
        Interlocked.Increment(ref _fallocatesOnPool);
        var handle = _handle;
        var task = Task.Run(() => FallocateResult(FallocateNow(handle, mode, offset, length), call), ct);
        return new ValueTask<bool>(ThreadPoolIo.ReleaseAfter(task, handle, default));
    }

    private static async ValueTask<bool> AwaitFallocate(ValueTask<int> pending, string call, CancellationToken ct)
        => FallocateResult(await pending.ConfigureAwait(false), call, ct);

    /// <summary>Misuse checks before anything happens; false when the range is empty (nothing to do).</summary>
    private bool ValidateFallocate(long offset, long length)
    {
        ThrowIfDisposed();
        if (_readOnly)
        {
            throw new InvalidOperationException("The BlockFile was opened read-only.");
        }

        ValidateRange(offset, length, allowEmpty: true);

        // fallocate refuses an empty range (EINVAL); there is nothing to do.
        return length != 0;
    }

    /// <summary>fallocate with KEEP_SIZE on a file the caller holds a reference on: 0, or the negated errno.</summary>
    private static int FallocateNow(SafeFileHandle handle, int mode, long offset, long length)
    {
        // KEEP_SIZE: a range past the end must not make the file longer (PUNCH_HOLE requires it anyway).
        return Libc.FAllocate((int)handle.DangerousGetHandle(), mode | Libc.FALLOC_FL_KEEP_SIZE, offset, length) == 0 ? 0 : -Errors.LastErrno;
    }

    private static bool FallocateResult(int result, string call, CancellationToken ct = default) => result switch
    {
        >= 0 => true,

        // A cancel that reached the request on its io-wq worker signals that worker; a file system that checks for
        // signals ends the call with EINTR: the cancellation the caller asked for, not a failure.
        -Errno.EINTR when ct.IsCancellationRequested => throw new OperationCanceledException(ct),

        // The file system, device or file type has no such mode (EINVAL also: a block device range that is not aligned
        // to its logical block size).
        -Errno.EOPNOTSUPP or -Errno.ENOSYS or -Errno.EINVAL or -Errno.ENODEV => false,
        _ => throw new AioException(-result, call),
    };
}
