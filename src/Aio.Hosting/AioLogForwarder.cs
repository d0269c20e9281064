using System.Diagnostics.Tracing;
using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

/// <summary>Listens to Aio's EventSource at Warning and above and writes each event to an <see cref="ILogger"/>.</summary>
internal sealed class AioLogForwarder : EventListener
{
    private readonly ILogger _logger;
    private readonly Func<int, string?, bool, bool> _forwards;

    /// <param name="logger">Where the events go.</param>
    /// <param name="forwards">
    /// Given an event's id, the context it names and whether that context's owner reports the event itself, whether this
    /// logger takes it (<see cref="AioEventRouting"/>): not another host's, nor a callback failure the caller logs itself
    /// with the exception object.
    /// </param>
    public AioLogForwarder(ILogger logger, Func<int, string?, bool, bool> forwards)
    {
        // The base constructor already reported the existing sources, before these fields were set: enable here.
        _logger = logger;
        _forwards = forwards;
        foreach (var source in EventSource.GetSources())
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Warning);
            }
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        // Called from the base constructor too (then _logger is still null; the constructor enables those sources).
        if (eventSource.Name == AioDiagnostics.EventSourceName && _logger is not null)
        {
            EnableEvents(eventSource, EventLevel.Warning);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (_logger is null || eventData.Level > EventLevel.Warning || eventData.Level == EventLevel.LogAlways)
        {
            return;
        }

        // Every Aio event names its context first.
        string? context = eventData.Payload is [string name, ..] ? name : null;
        // Listeners run inside the write, on its thread: the event source's flag is this event's.
        if (!_forwards(eventData.EventId, context, AioDiagnostics.IsCurrentEventReportedByOwner))
        {
            return;
        }

        var level = eventData.Level switch
        {
            EventLevel.Critical => LogLevel.Critical,
            EventLevel.Error => LogLevel.Error,
            _ => LogLevel.Warning,
        };
        string message = eventData.Message is { } format && eventData.Payload is { } payload
            ? string.Format(System.Globalization.CultureInfo.InvariantCulture, format, [.. payload])
            : eventData.EventName ?? "Aio event";
        Log.EventSourceEvent(_logger, level, eventData.EventId, message);
    }
}
