namespace Aio.Monitors;

/// <summary>A registration change queued for the home thread: arm (add) or disarm (remove) one handler's poll.</summary>
internal readonly record struct HandlerChange(AioHandler Handler, bool Add);
