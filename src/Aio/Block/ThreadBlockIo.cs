using Aio.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aio.Block;

/// <summary>The Threads engine: the same semantics as <see cref="BlockOperation"/>, as blocking calls on the thread pool.</summary>
internal static class ThreadBlockIo
{
    /// <summary>Queues the request; the file is referenced from now until the task has ended, ran or not (a Dispose meanwhile cannot close it).</summary>
    /// <exception cref="ObjectDisposedException">The handle is closed.</exception>
    public static ValueTask<int> RunAsync(SafeFileHandle file, Memory<byte> buffer, long offset, bool write, int alignment, CancellationToken ct)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        var task = Task.Run(() => Run(file, buffer, offset, write, alignment), ct);
        return new(ReleaseAfter(task, file));
    }

    /// <summary>
    /// The request's result, once its reference on the file is gone: whoever sees the request complete may rely on the
    /// file being released by it (a disposed BlockFile's last request closes the fd). Also when the token cancelled the
    /// task before it started (the delegate then never ran).
    /// </summary>
    private static async Task<int> ReleaseAfter(Task<int> task, SafeFileHandle file)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    public static int Run(SafeFileHandle file, Memory<byte> buffer, long offset, bool write, int alignment)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            int fd = (int)file.DangerousGetHandle();
            int done = 0;
            var span = buffer.Span;
            while (done < span.Length)
            {
                long rc = write ? Libc.PWriteSpan(fd, span[done..], offset + done) : Libc.PReadSpan(fd, span[done..], offset + done);
                if (rc < 0)
                {
                    int errno = Errors.LastErrno;
                    if (errno == Errno.EAGAIN)
                    {
                        continue;
                    }

                    Errors.Throw(errno, write ? "write" : "read");
                }

                if (write && rc == 0)
                {
                    Errors.Throw(Errno.ENOSPC, "write");
                }

                done += (int)rc;
                if (!write && (rc == 0 || (alignment > 1 && done % alignment != 0)))
                {
                    span[done..].Clear();
                    done = span.Length;
                }
            }

            return done;
        }
        finally
        {
            file.DangerousRelease();
        }
    }
}
