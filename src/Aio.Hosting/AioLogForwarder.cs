using System.Diagnostics.Tracing;
using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

/// <summary>Listens to Aio's EventSource at Warning and above and writes each event to an <see cref="ILogger"/>.</summary>
internal sealed class AioLogForwarder : EventListener
{
    /// <summary><c>CallbackFailed</c>: a callback threw on an IoThread.</summary>
    private const int CallbackFailedEventId = 4;

    private readonly ILogger _logger;
    private readonly Func<bool> _reportedElsewhere;

    /// <param name="logger">Where the events go.</param>
    /// <param name="reportedElsewhere">
    /// True on the threads whose callback failures the caller logs itself, with the exception object: a
    /// <c>CallbackFailed</c> event written there is not forwarded a second time.
    /// </param>
    public AioLogForwarder(ILogger logger, Func<bool> reportedElsewhere)
    {
        // The base constructor already reported the existing sources, before these fields were set: enable here.
        _logger = logger;
        _reportedElsewhere = reportedElsewhere;
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

        if (eventData.EventId == CallbackFailedEventId && _reportedElsewhere())
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
