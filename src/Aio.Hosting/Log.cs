using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

/// <summary>Aio.Hosting's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Error, "Aio loop {Loop}: a callback threw; the loop serves on.", EventName = "CallbackException")]
    public static partial void CallbackException(ILogger logger, Exception exception, string loop);

    [LoggerMessage(EventId = 2, EventName = "AioEvent", Message = "Aio event {AioEventId}: {Text}")]
    public static partial void EventSourceEvent(ILogger logger, LogLevel level, int aioEventId, string text);

    [LoggerMessage(3, LogLevel.Error, "Aio loops still running when the host's shutdown timeout expired (a callback that does not return?); the host stops without them.", EventName = "LoopsDidNotStop")]
    public static partial void LoopsDidNotStop(ILogger logger);
}
