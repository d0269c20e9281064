namespace Aio.Monitors;

/// <summary>
/// How a context waits for its fds (QEMU <c>FDMonOps</c>): the only seam between the loop and a backend. Every
/// implementation has the same level-triggered, poll(2)-like semantics, so the whole context test suite runs
/// against each one unchanged.
/// </summary>
internal interface IFdMonitor : IDisposable
{
    /// <summary>Which monitor this is.</summary>
    FdMonitorKind Kind { get; }

    /// <summary>
    /// A registration changed for one fd: <paramref name="oldHandler"/> (null when new) is replaced by
    /// <paramref name="newHandler"/> (null when removed). Called with the handler table's lock held, from any thread.
    /// May throw <see cref="AioException"/> for an fd the backend cannot watch; the caller then undoes the change.
    /// </summary>
    void Update(int fd, AioHandler? oldHandler, AioHandler? newHandler);

    /// <summary>
    /// Waits up to <paramref name="timeoutNs"/> (negative: no limit; 0: do not sleep) and appends ready handlers to
    /// <paramref name="ready"/>. Home thread only.
    /// </summary>
    void Wait(ReadyCollector ready, long timeoutNs);

    /// <summary>
    /// True when a non-blocking iteration must still call <see cref="Wait"/> (with timeout 0) because the monitor has
    /// work that userspace polling cannot see.
    /// </summary>
    bool NeedWait();

    /// <summary>
    /// True when the monitor holds ready handlers it has not handed to a <see cref="Wait"/> yet (io_uring: polls reaped
    /// while making room in the SQ): the next iteration must not sleep (docs/DESIGN.md, loop step 1).
    /// </summary>
    bool HasReadyWork { get; }

    /// <summary>
    /// io_uring: the kernel has posted completions, or queued the task work that posts them, and no wait has reaped them
    /// yet: a wait returns at once, so the iteration must neither sleep nor busy-poll (docs/DESIGN.md, loop step 1).
    /// Always false for poll(2) and epoll, whose readiness only their wait can see.
    /// </summary>
    bool HasKernelCompletions { get; }

    /// <summary>
    /// True while a request's SqePreparer runs on the home thread. The entry it fills is already in the SQ, so a nested
    /// loop iteration (which would submit it half-filled) must be refused.
    /// </summary>
    bool IsPreparing { get; }

    /// <summary>What an outer main loop must watch for this monitor.</summary>
    IReadOnlyList<PollFd> OuterFds { get; }

    /// <summary>Outer-loop path, before the outer loop sleeps: push queued work to the kernel. Home thread.</summary>
    void OuterPrepare();

    /// <summary>
    /// Outer-loop path: the longest the outer loop may sleep (nanoseconds) even with nothing to do, because some
    /// completion would not wake it; -1 for no limit.
    /// </summary>
    long OuterMaxTimeoutNs { get; }

    /// <summary>Outer-loop path, after it wakes: true if something is ready to dispatch. Home thread.</summary>
    bool OuterCheck();

    /// <summary>Outer-loop path: collect what is ready without sleeping.</summary>
    void OuterCollect(ReadyCollector ready);

    /// <summary>The monitor's kernel-request side (io_uring); null where the backend has none.</summary>
    IRequestRing? Requests { get; }

    /// <summary>The home thread is bound (io_uring: IORING_REGISTER_ENABLE_RINGS makes it the single issuer). No-op elsewhere.</summary>
    void BindHomeThread();

    /// <summary>
    /// Home thread, before busy-polling: hands queued work (re-armed polls, handler changes, foreign requests) to the
    /// kernel without waiting, so that <see cref="NeedWait"/> then means "the kernel has something". No-op elsewhere.
    /// </summary>
    void SubmitPending();

    /// <summary>
    /// Home thread, each time an outer loop prepares to sleep: adapt to being driven from outside. No-op elsewhere.
    /// Returns the errno with which the kernel refused what the adaptation needed (a new ring), 0 otherwise.
    /// </summary>
    int PrepareForOuterLoop();

    /// <summary>True while the monitor may still report <paramref name="handler"/> (io_uring: its POLL_ADD is in flight): it is not reclaimed yet.</summary>
    bool HoldsHandler(AioHandler handler);
}
