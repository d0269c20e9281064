namespace Aio;

/// <summary>How a context waits for file descriptors (QEMU's <c>FDMonOps</c>).</summary>
public enum FdMonitorKind
{
    /// <summary>poll(2): every fd passed on every wait; the only monitor that exposes each fd to an outer loop.</summary>
    Poll,

    /// <summary>epoll(7): one kernel object holds the interest set.</summary>
    Epoll,

    /// <summary>io_uring: fds watched with one-shot POLL_ADD requests, and user requests through <c>AddSqe</c>.</summary>
    IoUring,
}
