using System.Diagnostics.Tracing;

namespace Aio.Diagnostics;

/// <summary>
/// The <c>Aio</c> event source: monitor selection and fallback reasons, fds dropped because they became invalid.
/// Each event costs one <see cref="EventSource.IsEnabled()"/> check when nobody listens.
/// </summary>
[EventSource(Name = "Aio")]
internal sealed class AioEventSource : EventSource
{
    public static readonly AioEventSource Log = new();

    private AioEventSource()
    {
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
    [Event(2, Level = EventLevel.Warning, Message = "Context {0}: {1} unavailable, using {2}: {3}")]
    public void MonitorFallback(string context, string wanted, string used, string reason)
    {
        if (IsEnabled())
        {
            WriteEvent(2, context, wanted, used, reason);
        }
    }

    /// <summary>An fd was closed while registered; its handler was removed so the loop does not spin.</summary>
    [Event(3, Level = EventLevel.Warning, Message = "Context {0}: fd {1} became invalid while registered; its handler was removed")]
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
}
