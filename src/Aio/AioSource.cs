namespace Aio;

/// <summary>
/// Drives a context from somebody else's main loop (QEMU's GSource integration, seed ded29e64c6): the outer loop
/// watches <see cref="Fds"/>, and around its own sleep calls <see cref="Prepare"/>, <see cref="Check"/> and
/// <see cref="Dispatch"/>. io_uring and epoll keep working this way; the outer loop watches their one fd.
/// </summary>
/// <remarks>
/// The thread that drives the source is the context's home thread (same rule as <c>Poll</c>); <c>Poll</c> and the
/// source must not be used at the same time. No busy-polling happens on this path.
/// </remarks>
public sealed class AioSource
{
    private readonly AioContext _context;
    private IReadOnlyList<PollFd> _lastFds = [];

    internal AioSource(AioContext context) => _context = context;

    /// <summary>What the outer loop must watch: the ring fd (io_uring), the epoll fd (epoll), or every handler's fd (poll).</summary>
    public IReadOnlyList<PollFd> Fds => _context.OuterFds;

    /// <summary>Raised from <see cref="Prepare"/>, on the driving thread, when <see cref="Fds"/> changed since the last call.</summary>
    public event Action? FdsChanged;

    /// <summary>
    /// Before the outer loop sleeps: announces the sleep, submits queued io_uring work and computes the timeout
    /// (milliseconds rounded up, -1 for no limit, 0 when work is ready). Returns true when <see cref="Dispatch"/> can run
    /// without sleeping.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on a thread other than the home thread.</exception>
    public bool Prepare(out int timeoutMs)
    {
        bool ready = _context.SourcePrepare(out timeoutMs);
        var fds = Fds;
        if (!ReferenceEquals(fds, _lastFds))
        {
            _lastFds = fds;
            FdsChanged?.Invoke();
        }

        return ready;
    }

    /// <summary>After the outer loop woke: true if there is something to dispatch (bottom halves, ready fds,
    /// completions, including completions the kernel still holds as task work, or expired timers).</summary>
    public bool Check() => _context.SourceCheck();

    /// <summary>Runs bottom halves, then fd handlers and completions, then expired timers. Never sleeps.</summary>
    public void Dispatch() => _context.SourceDispatch();
}
