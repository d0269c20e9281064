using System.Buffers;
using Aio.Async;
using Aio.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aio.Block;

/// <summary>The Threads engine: the same semantics as <see cref="BlockOperation"/>, as blocking calls on the thread pool.</summary>
internal static class ThreadBlockIo
{
    /// <summary>
    /// Queues the request. From now until the task has ended, ran or not, it holds the file (a Dispose meanwhile cannot
    /// close it) and <paramref name="pin"/> (the caller's pin on <paramref name="buffer"/>: an
    /// <see cref="AlignedBuffer"/> disposed meanwhile is not freed under the blocking call), as a ring request does.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The handle is closed (the pin is released then).</exception>
    public static ValueTask<int> RunAsync(SafeFileHandle file, Memory<byte> buffer, MemoryHandle pin, long offset, bool write, int alignment, CancellationToken ct)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
        }
        catch
        {
            pin.Dispose();
            throw;
        }

        var task = Task.Run(() => Run(file, buffer, offset, write, alignment), ct);
        return new(ThreadPoolIo.ReleaseAfter(task, file, pin));
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
                if (write && done < span.Length && alignment > 1 && done % alignment != 0)
                {
                    // As BlockOperation: the remainder of a short O_DIRECT write off the alignment would get EINVAL.
                    Errors.Throw(Errno.ENOSPC, "write");
                }

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
