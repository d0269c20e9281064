using System.Diagnostics.Tracing;

namespace Aio.Diagnostics;

/// <summary>
/// The <c>Aio-EventLoop</c> event source (<see cref="AioDiagnostics.EventSourceName"/>): monitor selection and fallback
/// reasons, fds dropped because they became invalid, callback failures, loops nobody runs, stalled loops, and EventCounters.
/// Each event costs one <see cref="EventSource.IsEnabled()"/> check when nobody listens.
/// </summary>
[EventSource(Name = AioDiagnostics.EventSourceName)]
internal sealed class AioEventSource : EventSource
{
    public static readonly AioEventSource Log = new();

    // Set on the writing thread while an event is written whose context's owner reports it itself (the context has
    // Warning subscribers, the IoThread CallbackException handlers): in-process listeners run inside the write, so
    // Aio.Hosting's forwarder can leave such an event of a context no host owns to that owner instead of logging it twice.
    [ThreadStatic]
    private static bool t_ownerReports;

    // The warnings' texts, shared with AioContext.Warning (whose subscribers get them formatted the same way).
    internal const string MonitorFallbackMessage = "Context {0}: {1} unavailable, using {2}: {3}";

    internal const string InvalidFdRemovedMessage = "Context {0}: fd {1} became invalid while registered; its handler was removed";

    internal const string LoopNotRunningMessage = "Context {0}: a ring request has waited {1} ms, but nobody runs this loop: start an IoThread, or call Poll, Run or RunUntil on one thread";

    internal const string LoopStalledMessage = "Context {0}: the loop has been running callbacks for {1} ms without returning to its wait (stall threshold {2} ms): a callback blocks the loop";

    private IncrementingPollingCounter? _iterations;
    private IncrementingPollingCounter? _notifies;
    private IncrementingPollingCounter? _sqes;
    private IncrementingPollingCounter? _cqes;
    private PollingCounter? _pollHitRatio;
    private PollingCounter? _contexts;

    private AioEventSource()
    {
    }

    /// <summary>Creates the counters when a listener (dotnet-counters) enables the source, not before.</summary>
    protected override void OnEventCommand(EventCommandEventArgs command)
    {
        // A listener may want LoopStalled now: the watchdog parks while nobody listens.
        LoopStallWatchdog.Resume();
        if (command.Command != EventCommand.Enable || _iterations is not null)
        {
            return;
        }

        _iterations = new IncrementingPollingCounter("loop-iterations", this, () => ContextRegistry.Total().Iterations)
        {
            DisplayName = "Loop iterations",
            DisplayRateTimeScale = TimeSpan.FromSeconds(1),
        };
        _notifies = new IncrementingPollingCounter("notifies", this, () => ContextRegistry.Total().Notifies)
        {
            DisplayName = "Notifies",
            DisplayRateTimeScale = TimeSpan.FromSeconds(1),
        };
        _sqes = new IncrementingPollingCounter("sqes", this, () => ContextRegistry.Total().SqesSubmitted)
        {
            DisplayName = "SQEs submitted",
            DisplayRateTimeScale = TimeSpan.FromSeconds(1),
        };
        _cqes = new IncrementingPollingCounter("cqes", this, () => ContextRegistry.Total().CqesReaped)
        {
            DisplayName = "CQEs reaped",
            DisplayRateTimeScale = TimeSpan.FromSeconds(1),
        };
        _pollHitRatio = new PollingCounter("poll-hit-ratio", this, () =>
        {
            var t = ContextRegistry.Total();
            long all = t.PollSuccesses + t.PollFailures;
            return all == 0 ? 0 : (double)t.PollSuccesses / all;
        })
        {
            DisplayName = "Busy-poll hit ratio",
        };
        _contexts = new PollingCounter("contexts", this, () => ContextRegistry.Live.Count) { DisplayName = "Live contexts" };
    }

    /// <summary>A context chose (or switched to) a monitor.</summary>
    [Event(1, Level = EventLevel.Informational, Message = "Context {0} uses the {1} monitor")]
    public void MonitorSelected(string context, string monitor)
    {
        if (IsEnabled())
        {
            WriteEvent(1, context, monitor);
        }
    }

    /// <summary>A monitor could not be used and another took its place.</summary>
    [Event(2, Level = EventLevel.Warning, Message = MonitorFallbackMessage)]
    public void MonitorFallback(string context, string wanted, string used, string reason)
    {
        if (IsEnabled())
        {
            WriteEvent(2, context, wanted, used, reason);
        }
    }

    /// <summary>An fd was closed while registered; its handler was removed so the loop does not spin.</summary>
    [Event(3, Level = EventLevel.Warning, Message = InvalidFdRemovedMessage)]
    public void InvalidFdRemoved(string context, int fd)
    {
        if (IsEnabled())
        {
            WriteEvent(3, context, fd);
        }
    }

    /// <summary>A callback threw on an IoThread; the thread keeps serving.</summary>
    [Event(4, Level = EventLevel.Error, Message = "Context {0}: a callback threw: {1}")]
    public void CallbackFailed(string context, string exception)
    {
        if (IsEnabled())
        {
            WriteEvent(4, context, exception);
        }
    }

    /// <summary>
    /// A ring request was submitted to a context before any thread ran its loop, and still no thread has: the request
    /// (and whoever awaits it) waits until one does. Legal when a loop starts later; a hang when none ever will.
    /// </summary>
    [Event(5, Level = EventLevel.Warning, Message = LoopNotRunningMessage)]
    public void LoopNotRunning(string context, long waitedMs)
    {
        if (IsEnabled())
        {
            WriteEvent(5, context, waitedMs);
        }
    }

    /// <summary>
    /// A loop has been running one iteration's callbacks for longer than its stall threshold (a callback blocks, or
    /// computes too long, on the loop): every other handler, bottom half and completion of that loop waits. Once per
    /// stall; <see cref="LoopStallWatchdog"/> writes it.
    /// </summary>
    [Event(6, Level = EventLevel.Warning, Message = LoopStalledMessage)]
    public void LoopStalled(string context, long milliseconds, long thresholdMs)
    {
        if (IsEnabled())
        {
            WriteEvent(6, context, milliseconds, thresholdMs);
        }
    }

    /// <summary>
    /// Inside the write of an event, on its thread: whether the owner of the context it names reports it itself (to its
    /// <see cref="AioContext.Warning"/> subscribers, or its <see cref="IoThread.CallbackException"/> handlers).
    /// </summary>
    internal static bool OwnerReportsCurrentEvent => t_ownerReports;

    /// <summary>Sets <see cref="OwnerReportsCurrentEvent"/> for the write inside the scope.</summary>
    private readonly ref struct OwnerReportsScope
    {
        public OwnerReportsScope(bool ownerReports) => t_ownerReports = ownerReports;

        public void Dispose() => t_ownerReports = false;
    }

    /// <summary><see cref="CallbackFailed(string, string)"/>, telling listeners whether the IoThread's own handlers hear it too.</summary>
    [NonEvent]
    public void CallbackFailed(string context, string exception, bool ownerReports)
    {
        using (new OwnerReportsScope(ownerReports))
        {
            CallbackFailed(context, exception);
        }
    }

    // The warnings about one context: written to the event source and handed to the context's own Warning subscribers.

    /// <summary><see cref="MonitorFallback(string, string, string, string)"/>, and the same to <paramref name="context"/>'s subscribers.</summary>
    [NonEvent]
    public void MonitorFallback(AioContext context, string wanted, string used, string reason)
    {
        using (new OwnerReportsScope(context.HasWarningSubscribers))
        {
            MonitorFallback(context.Name, wanted, used, reason);
        }

        context.RaiseWarning(2, nameof(MonitorFallback), MonitorFallbackMessage, context.Name, wanted, used, reason);
    }

    /// <summary><see cref="InvalidFdRemoved(string, int)"/>, and the same to <paramref name="context"/>'s subscribers.</summary>
    [NonEvent]
    public void InvalidFdRemoved(AioContext context, int fd)
    {
        using (new OwnerReportsScope(context.HasWarningSubscribers))
        {
            InvalidFdRemoved(context.Name, fd);
        }

        // Found while the monitor collects readiness: the subscribers hear it after that.
        context.RaiseWarningAfterCollect(3, nameof(InvalidFdRemoved), InvalidFdRemovedMessage, context.Name, fd);
    }

    /// <summary><see cref="LoopNotRunning(string, long)"/>, and the same to <paramref name="context"/>'s subscribers.</summary>
    [NonEvent]
    public void LoopNotRunning(AioContext context, long waitedMs)
    {
        using (new OwnerReportsScope(context.HasWarningSubscribers))
        {
            LoopNotRunning(context.Name, waitedMs);
        }

        context.RaiseWarning(5, nameof(LoopNotRunning), LoopNotRunningMessage, context.Name, waitedMs);
    }

    /// <summary><see cref="LoopStalled(string, long, long)"/>, and the same to <paramref name="context"/>'s subscribers.</summary>
    [NonEvent]
    public void LoopStalled(AioContext context, long milliseconds, long thresholdMs)
    {
        using (new OwnerReportsScope(context.HasWarningSubscribers))
        {
            LoopStalled(context.Name, milliseconds, thresholdMs);
        }

        context.RaiseWarning(6, nameof(LoopStalled), LoopStalledMessage, context.Name, milliseconds, thresholdMs);
    }
}
