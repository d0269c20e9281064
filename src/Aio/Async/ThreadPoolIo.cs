using System.Buffers;
using System.Runtime.InteropServices;
using Aio.Interop;

namespace Aio.Async;

/// <summary>The blocking calls behind the thread-pool path (QEMU aio=threads): used without io_uring.</summary>
internal static class ThreadPoolIo
{
    public static ValueTask<int> ReadAsync(SafeHandle file, Memory<byte> buffer, long offset, CancellationToken ct)
    {
        var pin = Hold(file, buffer);
        return new(ReleaseAfter(Task.Run(() => Read(file, buffer, offset), ct), file, pin));
    }

    public static ValueTask<int> WriteAsync(SafeHandle file, ReadOnlyMemory<byte> buffer, long offset, CancellationToken ct)
    {
        var pin = Hold(file, buffer);
        return new(ReleaseAfter(Task.Run(() => Write(file, buffer, offset), ct), file, pin));
    }

    public static ValueTask FlushAsync(SafeHandle file, bool dataOnly, CancellationToken ct)
    {
        Hold(file, ReadOnlyMemory<byte>.Empty);
        return new(ReleaseAfter(Task.Run(() => Flush(file, dataOnly), ct), file, default));
    }

    /// <summary>
    /// What a ring request holds from the moment it is accepted: a reference on the file (a Dispose meanwhile cannot
    /// close the fd, or let it be reused, under the blocking call) and a pin on the buffer (an
    /// <see cref="AlignedBuffer"/> disposed meanwhile is not freed under the call, a managed array does not move).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file is closed, or the buffer disposed; nothing is held then.</exception>
    internal static MemoryHandle Hold(SafeHandle file, ReadOnlyMemory<byte> buffer)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            return buffer.Pin();
        }
        catch
        {
            file.DangerousRelease();
            throw;
        }
    }

    /// <summary>
    /// The call's result once it has let go of the file and the buffer: whoever sees the request complete may rely on
    /// both being released (a disposed BlockFile's last request closes the fd). Also when the token cancelled the task
    /// before it started (the delegate then never ran).
    /// </summary>
    internal static async Task<T> ReleaseAfter<T>(Task<T> task, SafeHandle file, MemoryHandle pin)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            pin.Dispose();
            file.DangerousRelease();
        }
    }

    private static async Task ReleaseAfter(Task task, SafeHandle file, MemoryHandle pin)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            pin.Dispose();
            file.DangerousRelease();
        }
    }

    public static int Read(SafeHandle file, Memory<byte> buffer, long offset)
    {
        using var use = new FdUse(file);
        long rc = Libc.PReadSpan(use.Fd, buffer.Span, offset);
        return rc >= 0 ? (int)rc : Fail("read");
    }

    public static int Write(SafeHandle file, ReadOnlyMemory<byte> buffer, long offset)
    {
        using var use = new FdUse(file);
        long rc = Libc.PWriteSpan(use.Fd, buffer.Span, offset);
        return rc >= 0 ? (int)rc : Fail("write");
    }

    public static void Flush(SafeHandle file, bool dataOnly)
    {
        using var use = new FdUse(file);
        int rc = dataOnly ? Libc.FDataSync(use.Fd) : Libc.FSync(use.Fd);
        if (rc < 0)
        {
            Fail(dataOnly ? "fdatasync" : "fsync");
        }
    }

    private static int Fail(string call)
    {
        Errors.ThrowLast(call);
        return -1;
    }

    /// <summary>Keeps the handle's fd open for the duration of one call.</summary>
    private readonly ref struct FdUse
    {
        private readonly SafeHandle _handle;

        public FdUse(SafeHandle handle)
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            _handle = handle;
            Fd = (int)handle.DangerousGetHandle();
        }

        public int Fd { get; }

        public void Dispose() => _handle.DangerousRelease();
    }
}
