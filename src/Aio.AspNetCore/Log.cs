using Microsoft.Extensions.Logging;

namespace Aio.AspNetCore;

/// <summary>The transport's log messages (source-generated, allocation-free when disabled).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Connection id \"{ConnectionId}\" reset by the peer.", EventName = "ConnectionReset")]
    public static partial void ConnectionReset(ILogger logger, string connectionId);

    [LoggerMessage(2, LogLevel.Information, "io_uring is unavailable ({Reason}): Kestrel's Sockets transport serves instead of Aio.", EventName = "IoUringUnavailable")]
    public static partial void IoUringUnavailable(ILogger logger, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Aio transport: serving on {LoopCount} loops ({Owner} group), scheduling {Scheduling}.", EventName = "LoopsStarted")]
    public static partial void LoopsStarted(ILogger logger, int loopCount, AioSchedulingMode scheduling, string owner);

    [LoggerMessage(4, LogLevel.Error, "Aio transport: accepting a connection on {EndPoint} failed.", EventName = "AcceptFailed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception, string endPoint);

    [LoggerMessage(5, LogLevel.Error, "Aio transport loop {Loop}: a callback threw.", EventName = "CallbackException")]
    public static partial void CallbackException(ILogger logger, Exception exception, string loop);

    [LoggerMessage(6, LogLevel.Error, "Connection id \"{ConnectionId}\": a ConnectionClosed callback threw.", EventName = "ConnectionClosedCallbackException")]
    public static partial void ConnectionClosedCallbackException(ILogger logger, Exception exception, string connectionId);

    [LoggerMessage(7, LogLevel.Warning, "Aio transport: accepting a connection on {EndPoint} failed ({Error}); accepting again shortly.", EventName = "AcceptRetrying")]
    public static partial void AcceptRetrying(ILogger logger, Exception exception, string endPoint, System.Net.Sockets.SocketError error);

    [LoggerMessage(8, LogLevel.Debug, "Aio transport: accepting a connection on {EndPoint} failed again ({Error}).", EventName = "AcceptStillFailing")]
    public static partial void AcceptStillFailing(ILogger logger, string endPoint, System.Net.Sockets.SocketError error);

    [LoggerMessage(9, LogLevel.Information, "Aio transport: serving on the host's IoThreadGroup, so AioTransportOptions' {Options} are unused (the group's owner, e.g. AddAio, sets them).", EventName = "LoopOptionsUnused")]
    public static partial void LoopOptionsUnused(ILogger logger, string options);

    [LoggerMessage(10, LogLevel.Warning, "Aio transport ({AioEvent}): {Message}", EventName = "LoopWarning")]
    public static partial void LoopWarning(ILogger logger, string aioEvent, string message);

    [LoggerMessage(11, LogLevel.Debug, "Connection id \"{ConnectionId}\" communication error.", EventName = "ConnectionError")]
    public static partial void ConnectionError(ILogger logger, Exception exception, string connectionId);
}
