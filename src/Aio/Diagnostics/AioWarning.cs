namespace Aio;

/// <summary>
/// One warning about a context, as <see cref="AioContext.Warning"/> delivers it: the same event, with the same text,
/// that Aio's EventSource (<see cref="AioDiagnostics.EventSourceName"/>) writes at Warning level.
/// </summary>
/// <param name="EventId">The EventSource event's id: 2 a monitor fallback, 3 an fd removed because it became invalid, 5 a loop that nobody runs, 6 a stalled loop.</param>
/// <param name="EventName">The EventSource event's name (<c>MonitorFallback</c>, <c>InvalidFdRemoved</c>, <c>LoopNotRunning</c>, <c>LoopStalled</c>).</param>
/// <param name="Message">The event's message, formatted with its payload (it names the context first).</param>
public readonly record struct AioWarning(int EventId, string EventName, string Message);
