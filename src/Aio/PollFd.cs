namespace Aio;

/// <summary>An fd an outer main loop must watch for <c>AioSource</c>, and the events to watch for.</summary>
/// <param name="Fd">The file descriptor.</param>
/// <param name="Events">poll(2) events.</param>
public readonly record struct PollFd(int Fd, PollEvents Events);
