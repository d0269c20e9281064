using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Aio.TestHelper;

/// <summary>Listens to the "Aio-EventLoop" EventSource as a user would, and keeps every event as "Name(payload, ...)".</summary>
internal sealed class AioEvents : EventListener
{
    // OnEventSourceCreated runs from the base constructor, before this class's field initializers: keep the
    // events in a static so that it exists by then.
    private static readonly ConcurrentQueue<string> s_events = new();

    public static IReadOnlyCollection<string> All => s_events;

    public static string? Find(string eventName, params string[] payloadParts)
        => s_events.FirstOrDefault(e => e.StartsWith(eventName + "(", StringComparison.Ordinal)
            && payloadParts.All(p => e.Contains(p, StringComparison.Ordinal)));

    public static string Describe() => s_events.IsEmpty ? "(no Aio events)" : string.Join("; ", s_events);

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == AioDiagnostics.EventSourceName)
        {
            EnableEvents(eventSource, EventLevel.Verbose);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventSource.Name != AioDiagnostics.EventSourceName || eventData.EventName == "EventCounters")
        {
            return;
        }

        string payload = eventData.Payload is null ? string.Empty : string.Join(", ", eventData.Payload);
        s_events.Enqueue($"{eventData.EventName}({payload})");
    }
}
