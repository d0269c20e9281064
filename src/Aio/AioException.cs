using System.IO;
using Aio.Interop;

namespace Aio;

/// <summary>
/// A failed Linux system call or kernel request: carries the positive <see cref="Errno"/> value and a
/// message of the form <c>"&lt;call&gt;: &lt;ERRNO NAME&gt; (&lt;strerror text&gt;)"</c>, for example
/// <c>"io_uring_setup: EPERM (Operation not permitted)"</c>.
/// </summary>
public class AioException : IOException
{
    /// <summary>Creates an exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    /// <param name="errno">The positive errno value (a negative CQE result must be negated first).</param>
    /// <param name="call">The system call or operation that failed, e.g. <c>"epoll_ctl"</c>.</param>
    public AioException(int errno, string call)
        : base(Errors.Format(call, errno))
    {
        Errno = errno;
        HResult = errno;
    }

    /// <summary>Creates an exception with a message of its own that still carries an errno.</summary>
    /// <param name="message">The full message.</param>
    /// <param name="errno">The positive errno value behind it, or 0 when there is none.</param>
    /// <param name="innerException">The failure that caused this one, if any.</param>
    public AioException(string message, int errno, Exception? innerException = null)
        : base(message, innerException)
    {
        Errno = errno;
        HResult = errno;
    }

    /// <summary>The positive errno value (for example 9 for EBADF); 0 when the failure had none.</summary>
    public int Errno { get; }
}
