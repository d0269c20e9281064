namespace Aio;

/// <summary>
/// One registered fd (QEMU <c>AioHandler</c>): the registration only. Immutable callbacks: replacing a registration
/// creates a new handler and marks the old one deleted, so a dispatch that holds the old one never calls the new
/// callbacks by mistake. The loop's per-handler state lives beside it, one concern per type: <see cref="Polling"/>
/// (adaptive polling) and <see cref="Ticket"/> (which ready list dispatches it).
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
        Polling = poll is null ? null : new PollingState();
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

    /// <summary>Adaptive-polling state; null exactly when <see cref="Poll"/> is. Home thread.</summary>
    public PollingState? Polling { get; }

    /// <summary>The dispatch ticket: which ready list owns the handler's pending dispatch. Home thread.</summary>
    public ReadyTicket Ticket { get; } = new();

    /// <summary>Monitor-private state (the io_uring monitor's in-flight poll bookkeeping).</summary>
    public object? MonitorState { get; set; }

    public void MarkDeleted() => _deleted = true;
}
