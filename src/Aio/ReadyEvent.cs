namespace Aio;

/// <summary>A handler the monitor found ready, with the events it reported and the ready-list ticket it was given.</summary>
internal readonly record struct ReadyEvent(AioHandler Handler, PollEvents Events, long Seq);
