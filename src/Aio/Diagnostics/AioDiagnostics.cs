namespace Aio;

/// <summary>
/// The names under which Aio publishes its diagnostics. The two have different names so that a tool that takes a list
/// of providers (<c>dotnet-counters monitor --counters</c>, <c>dotnet-trace collect --providers</c>, an OpenTelemetry
/// <c>AddMeter</c>) can ask for each one: with one name for both, <c>dotnet-counters</c> showed one and hid the other.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="MeterName"/>: a <see cref="System.Diagnostics.Metrics.Meter"/> with one observable counter per loop
/// statistic (<c>aio.loop.iterations</c>, <c>aio.notifies</c>, <c>aio.uring.sqes</c>, ...), one measurement per live
/// context tagged <c>aio.context</c> with its name. Read it with <c>dotnet-counters monitor --counters Aio</c> or any
/// <see cref="System.Diagnostics.Metrics.MeterListener"/>.</item>
/// <item><see cref="EventSourceName"/>: an <see cref="System.Diagnostics.Tracing.EventSource"/> with the events
/// (monitor selected, monitor fallback and its reason, an fd removed because it became invalid, a callback that threw
/// on an IoThread, a loop that nobody runs, a loop stalled by a callback: <c>LoopStalled</c>, see
/// <see cref="AioContextOptions.LoopStallThreshold"/>) and EventCounters summed over all contexts (loop iterations, notifies, SQEs
/// and CQEs per second, busy-poll hit ratio, live contexts). Read it with
/// <c>dotnet-counters monitor --counters Aio-EventLoop</c> or <c>dotnet-trace collect --providers Aio-EventLoop</c>.</item>
/// </list>
/// </remarks>
public static class AioDiagnostics
{
    /// <summary>The name of Aio's <see cref="System.Diagnostics.Metrics.Meter"/>: <c>"Aio"</c>.</summary>
    public const string MeterName = "Aio";

    /// <summary>The name of Aio's <see cref="System.Diagnostics.Tracing.EventSource"/>: <c>"Aio-EventLoop"</c>.</summary>
    public const string EventSourceName = "Aio-EventLoop";

    /// <summary>
    /// Read inside an in-process <see cref="System.Diagnostics.Tracing.EventListener"/>'s <c>OnEventWritten</c> for an
    /// <see cref="EventSourceName"/> event: true when the owner of the context the event names reports it itself (the
    /// context has <see cref="AioContext.Warning"/> subscribers, or the event is a callback failure that the
    /// <see cref="IoThread.CallbackException"/> handlers hear). A listener that forwards events to a log can skip those,
    /// so that nothing is logged twice. False anywhere else (it is set on the writing thread for the write only).
    /// </summary>
    public static bool IsCurrentEventReportedByOwner => Diagnostics.AioEventSource.OwnerReportsCurrentEvent;
}
