namespace Aio;

/// <summary>How <see cref="AioContext.Create(AioContextOptions?)"/> sets up a context.</summary>
public sealed record AioContextOptions
{
    /// <summary>
    /// null: io_uring, else poll(2) upgrading itself to epoll at 64 fds. A value: exactly that monitor, or an
    /// <see cref="AioException"/> when it cannot be had.
    /// </summary>
    public FdMonitorKind? Monitor { get; init; }

    /// <summary>
    /// io_uring submission queue size, 1 to 32768 (the kernel rounds it up to a power of two). The completion queue is
    /// four times larger, capped at the kernel's maximum of 65536.
    /// </summary>
    public int RingEntries { get; init; } = 128;

    /// <summary>Adaptive polling ceiling in nanoseconds; 0 = no userspace polling.</summary>
    public long PollMaxNs { get; init; }

    /// <summary>Window growth factor; 0 = 2.</summary>
    public long PollGrow { get; init; }

    /// <summary>Window divisor on a miss; 0 = reset the window to 0.</summary>
    public long PollShrink { get; init; }

    /// <summary>
    /// How long the loop may run one iteration's callbacks before the <c>Aio-EventLoop</c> event source writes a
    /// <c>LoopStalled</c> warning (once per stall; Aio.Hosting forwards it to <c>ILogger</c>), also raised as the
    /// context's <see cref="AioContext.Warning"/>. Checked by one watchdog thread per process, every half threshold, only
    /// while someone listens to the event source at Warning or subscribes to a context's Warning.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns the watch off for this context. Default 200 ms.
    /// </summary>
    public TimeSpan LoopStallThreshold { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// An outer main loop (<see cref="AioContext.Source"/>, Aio.GLib) will drive this context: an io_uring ring is set up
    /// in the COOP_TASKRUN tier from the start instead of being moved there at the outer loop's first
    /// <see cref="AioSource.Prepare"/>. Set it when requests may be in flight before that (a listener's multishot
    /// accept, a pending receive): such requests cannot move to another ring, so until they end the outer loop would
    /// otherwise be held to 1 ms sleeps to run their completions. Costs the DEFER_TASKRUN tier's batching when the
    /// context is polled on its own.
    /// </summary>
    public bool OuterLoop { get; init; }

    /// <summary>Shows up in thread names, diagnostics and error messages.</summary>
    public string? Name { get; init; }

    /// <summary>io_uring setup flags never to request (benchmarks compare the flag tiers with it).</summary>
    internal uint ForbiddenRingFlags { get; init; }

    /// <summary>
    /// Register the ring fd with the home thread (IORING_REGISTER_RING_FDS) when it binds. Only for a thread that is the
    /// context's own (IoThread sets it): a task holds at most 16 registrations, and one made by a thread that outlives a
    /// context disposed elsewhere keeps that ring alive until the thread exits.
    /// </summary>
    internal bool RegisterRingFd { get; init; }

    /// <summary>For tests: behave as if io_uring_setup failed with this errno (0: really try).</summary>
    internal int SimulatedIoUringErrno { get; init; }

    /// <summary>
    /// For tests: socket SEND and RECV requests carry MSG_DONTWAIT, so the kernel completes them with EAGAIN at once when
    /// the socket has no room (or no data) instead of polling: the completion it otherwise hands back only when its
    /// retry after a poll finds no room again.
    /// </summary>
    internal bool SocketIoDontWait { get; init; }

    /// <summary>For tests: behave as if the ring's probe did not report these operations (an older kernel).</summary>
    internal IReadOnlyList<IoUringOpcode> SimulatedMissingOpcodes { get; init; } = [];

    /// <summary>How Dispose cancels requests in flight (tests force the pre-5.19 path, or a kernel that cancels nothing).</summary>
    internal Monitors.CancelStrategy DisposeCancel { get; init; }

    /// <summary>Least time between two epoll sweeps for fds closed behind the monitor's back (tests set zero).</summary>
    internal TimeSpan EpollSweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long Dispose waits for the kernel to let go of cancelled requests before it abandons them.</summary>
    internal TimeSpan DisposeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a ring request submitted before any thread ran the loop may wait before the LoopNotRunning warning.</summary>
    internal TimeSpan LoopNotRunningDelay { get; init; } = TimeSpan.FromSeconds(2);
}
