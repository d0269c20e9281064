namespace Aio;

/// <summary>
/// A handler found ready, with the events the monitor reported, its dispatch ticket, and whether it was the busy-poll
/// that found it (<paramref name="Polled"/>: dispatch runs its pollReady). Carrying "polled" here, not on the
/// handler, means a list dropped without dispatching (a callback threw) leaves no state behind on its handlers.
/// </summary>
internal readonly record struct ReadyEvent(AioHandler Handler, PollEvents Events, long Ticket, bool Polled);
