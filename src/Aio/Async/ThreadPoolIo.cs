using System.Runtime.InteropServices;
using Aio.Interop;

namespace Aio.Async;

/// <summary>The blocking calls behind the thread-pool path (QEMU aio=threads): used without io_uring.</summary>
internal static class ThreadPoolIo
{
    public static ValueTask<int> ReadAsync(SafeHandle file, Memory<byte> buffer, long offset, CancellationToken ct)
        => new(Task.Run(() => Read(file, buffer, offset), ct));

    public static ValueTask<int> WriteAsync(SafeHandle file, ReadOnlyMemory<byte> buffer, long offset, CancellationToken ct)
        => new(Task.Run(() => Write(file, buffer, offset), ct));

    public static ValueTask FlushAsync(SafeHandle file, bool dataOnly, CancellationToken ct)
        => new(Task.Run(() => Flush(file, dataOnly), ct));

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
