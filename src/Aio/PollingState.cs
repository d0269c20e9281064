namespace Aio;

/// <summary>
/// A handler's adaptive-polling state (QEMU <c>AioPolledEvent</c> plus the polling-set bookkeeping). Home thread only.
/// </summary>
internal sealed class PollingState
{
    /// <summary>The polling window in nanoseconds.</summary>
    public long WindowNs { get; set; }

    /// <summary>Member of the context's polling set.</summary>
    public bool InSet { get; set; }

    /// <summary>The handler's pollReady is running: not polled meanwhile, so a nested Poll cannot re-enter it.</summary>
    public bool InPollReady { get; set; }

    /// <summary>Monotonic time after which an unsuccessful handler leaves the polling set (io_uring only); 0: not started.</summary>
    public long IdleDeadline { get; set; }
}
