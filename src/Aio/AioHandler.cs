namespace Aio;

/// <summary>
/// One registered fd (QEMU <c>AioHandler</c>). Immutable callbacks: replacing a registration creates a new handler
/// and marks the old one deleted, so a dispatch that holds the old one never calls the new callbacks by mistake.
/// </summary>
internal sealed class AioHandler
{
    private volatile bool _deleted;

    public AioHandler(int fd, Action? onReadable, Action? onWritable, Func<bool>? poll, Action? pollReady, bool isInternal = false)
    {
        Fd = fd;
        OnReadable = onReadable;
        OnWritable = onWritable;
        Poll = poll;
        PollReady = pollReady;
        IsInternal = isInternal;
        Events = (onReadable is null ? PollEvents.None : PollEvents.In) | (onWritable is null ? PollEvents.None : PollEvents.Out);
    }

    public int Fd { get; }

    public Action? OnReadable { get; }

    public Action? OnWritable { get; }

    /// <summary>The busy-poll check (adaptive polling); null when the handler cannot be polled from userspace.</summary>
    public Func<bool>? Poll { get; }

    /// <summary>Runs instead of <see cref="OnReadable"/> when <see cref="Poll"/> saw work.</summary>
    public Action? PollReady { get; }

    /// <summary>The context's own wake-up notifier: its dispatch is never progress.</summary>
    public bool IsInternal { get; }

    /// <summary>What the monitor watches: IN for a read callback, OUT for a write callback.</summary>
    public PollEvents Events { get; }

    /// <summary>Set (once) by removal or replacement; every dispatch re-checks it before each callback.</summary>
    public bool IsDeleted => _deleted;

    /// <summary>
    /// Which ready list owns the handler's pending dispatch (0: none). A nested loop that finds the handler ready
    /// again takes it over with a new sequence number, so the outer loop's stale entry is skipped: a ready handler is
    /// dispatched once, by whichever loop got to it last.
    /// </summary>
    public long ReadySeq { get; set; }

    /// <summary>Monitor-private state (the io_uring monitor's in-flight poll bookkeeping).</summary>
    public object? MonitorState { get; set; }

    /// <summary>Adaptive polling window in nanoseconds (QEMU <c>AioPolledEvent.ns</c>). Home thread.</summary>
    public long PollWindowNs { get; set; }

    /// <summary>Member of the context's polling set. Home thread.</summary>
    public bool InPollingSet { get; set; }

    /// <summary>The busy-poll saw work: dispatch runs <see cref="PollReady"/>. Home thread.</summary>
    public bool PollReadyPending { get; set; }

    /// <summary>Its <see cref="PollReady"/> is running: not polled meanwhile, so a nested Poll cannot re-enter it.</summary>
    public bool InPollReady { get; set; }

    /// <summary>Monotonic time after which an unsuccessful handler leaves the polling set (io_uring only); 0: not started.</summary>
    public long PollIdleDeadline { get; set; }

    public void MarkDeleted() => _deleted = true;
}
