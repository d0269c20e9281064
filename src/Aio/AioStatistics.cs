namespace Aio;

/// <summary>Counters since the context was created; a cheap snapshot from <see cref="AioContext.Statistics"/>.</summary>
/// <param name="Iterations">Loop iterations (<c>Poll</c> calls and outer-loop dispatches).</param>
/// <param name="BlockingWaits">Waits in the monitor with a non-zero timeout.</param>
/// <param name="Notifies"><c>Notify()</c> calls and wake-ups for work handed over from other threads, coalesced ones included.</param>
/// <param name="NotifyWrites">
/// Notifies that had to write the eventfd because the loop was (about to be) asleep: at most one per sleep, as the later
/// ones find the first one's flag still set and write nothing.
/// </param>
/// <param name="BottomHalvesRun">Bottom-half callbacks run (one-shots included).</param>
/// <param name="FdCallbacks">fd handler callbacks run (the context's own wake-up excluded).</param>
/// <param name="TimersFired">Timer callbacks run.</param>
/// <param name="SqesSubmitted">io_uring entries the kernel consumed.</param>
/// <param name="CqesReaped">io_uring completions consumed.</param>
/// <param name="RingEnters">io_uring_enter calls.</param>
/// <param name="PollSuccesses">Busy-poll rounds that found work.</param>
/// <param name="PollFailures">Busy-poll rounds whose window ended without work.</param>
public readonly record struct AioStatistics(
    long Iterations, long BlockingWaits, long Notifies, long NotifyWrites,
    long BottomHalvesRun, long FdCallbacks, long TimersFired,
    long SqesSubmitted, long CqesReaped, long RingEnters,
    long PollSuccesses, long PollFailures);
