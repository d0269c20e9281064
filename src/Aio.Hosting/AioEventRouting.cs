namespace Aio.Hosting;

/// <summary>
/// Decides which host logs an event of Aio's EventSource, which every listener in the process hears: with several
/// hosts in one process (integration tests start many), each would otherwise log every other host's loop failures and
/// warnings as its own.
/// </summary>
/// <remarks>
/// An event written on a host's loop thread is that host's. One written elsewhere (the stall watchdog, a context
/// being set up before its thread is known) names its context, and belongs to the host that claimed that name first
/// among those running that have a logger: a host claims its loops' names before they start. Hosts that share loop
/// names (the default <c>Name</c>, "aio", gives "aio-0", "aio-1"...) cannot be told apart that way, so such an event is
/// logged once, by the earliest of them; distinct names keep them apart. An event of a context no host claims (an
/// <see cref="IoThread"/> of the application's own) is logged once, by the earliest running host that has a logger,
/// unless the context's owner reports it itself (the Kestrel transport's and the NBD server's own loops, which log to
/// their own loggers; an IoThread whose CallbackException has a handler): then no host logs it.
/// Warnings are rare, so one lock is enough.
/// </remarks>
internal static class AioEventRouting
{
    /// <summary><c>CallbackFailed</c>: a callback threw on an IoThread.</summary>
    internal const int CallbackFailedEventId = 4;

    private static readonly Lock s_lock = new();
    private static readonly Dictionary<int, AioLoopService> s_threads = [];
    /// <summary>The claims in the order they were made: the first claimant of a name logs what names it.</summary>
    private static readonly List<(AioLoopService Host, HashSet<string> Names)> s_claims = [];

    /// <summary>The hosts with a logger, in the order they claimed: the first logs the events nobody claims.</summary>
    private static readonly List<AioLoopService> s_hosts = [];

    /// <summary>Before <paramref name="host"/>'s loops start: the context names they will carry are its.</summary>
    /// <param name="host">The host.</param>
    /// <param name="contextNames">Its loops' context names.</param>
    /// <param name="logs">Whether it has a logger (only then may it take the events of contexts nobody claims).</param>
    public static void Claim(AioLoopService host, IEnumerable<string> contextNames, bool logs)
    {
        lock (s_lock)
        {
            s_claims.Add((host, new HashSet<string>(contextNames, StringComparer.Ordinal)));
            if (logs && !s_hosts.Contains(host))
            {
                s_hosts.Add(host);
            }
        }
    }

    /// <summary>Once a loop thread runs: what is written on it is <paramref name="host"/>'s.</summary>
    public static void AddThread(AioLoopService host, int managedThreadId)
    {
        lock (s_lock)
        {
            s_threads[managedThreadId] = host;
        }
    }

    /// <summary>After <paramref name="host"/>'s loops stopped: forgets its threads (their ids can be reused) and names.</summary>
    public static void Leave(AioLoopService host)
    {
        lock (s_lock)
        {
            foreach (var (id, owner) in s_threads.ToArray())
            {
                if (owner == host)
                {
                    s_threads.Remove(id);
                }
            }

            s_claims.RemoveAll(c => c.Host == host);
            s_hosts.Remove(host);
        }
    }

    /// <summary>
    /// Whether <paramref name="host"/> logs the event being written on this thread. Never a <c>CallbackFailed</c> of its
    /// own loops: it logs those itself, with the exception object.
    /// </summary>
    /// <param name="host">The host asking.</param>
    /// <param name="eventId">The event's id.</param>
    /// <param name="contextName">The context the event names.</param>
    /// <param name="ownerReports">Whether that context's owner reports the event itself (its Warning subscribers, its IoThread's handlers).</param>
    public static bool Forwards(AioLoopService host, int eventId, string? contextName, bool ownerReports)
    {
        lock (s_lock)
        {
            if (s_threads.TryGetValue(Environment.CurrentManagedThreadId, out var owner))
            {
                return owner == host && eventId != CallbackFailedEventId;
            }

            if (contextName is not null)
            {
                bool claimed = false;
                foreach (var (claimant, names) in s_claims)
                {
                    // The first claimant that logs only: hosts that share names must not each log the event, and one
                    // without a logger (a bare container that claimed the name first) must not swallow it.
                    if (names.Contains(contextName))
                    {
                        claimed = true;
                        if (s_hosts.Contains(claimant))
                        {
                            return claimant == host;
                        }
                    }
                }

                if (claimed)
                {
                    // Claimed by hosts without loggers only: the event is theirs, and they log nothing.
                    return false;
                }
            }

            // A context no host claims. When its owner reports the event itself (the Kestrel transport's and the NBD
            // server's own loops log their warnings and callback failures, an IoThread with a CallbackException
            // handler hears its failures), logging it here too would log it twice.
            return !ownerReports && s_hosts.Count > 0 && s_hosts[0] == host;
        }
    }
}
