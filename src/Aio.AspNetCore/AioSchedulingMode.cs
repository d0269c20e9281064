namespace Aio.AspNetCore;

/// <summary>Where Kestrel's pipe continuations run for a connection of the Aio transport.</summary>
public enum AioSchedulingMode
{
    /// <summary>
    /// Kestrel's usual table: request parsing and the application's flush continuations run on the thread pool; only
    /// the transport's own pumps run on the connection's loop. The safe default: a blocking handler blocks nothing else.
    /// </summary>
    ThreadPool,

    /// <summary>
    /// Every pipe continuation of the connection runs on its loop (inline when already there): parse, handler and send
    /// stay on one thread with no hop. Like Sockets' <c>UnsafePreferInlineScheduling</c>: a handler that blocks stalls
    /// every connection of its loop.
    /// </summary>
    Loop,
}
