namespace Aio;

/// <summary>
/// A handler's dispatch ticket. Each time a ready list takes the handler it issues a new number, and only the entry
/// holding the current number may dispatch it: a nested loop that finds the handler ready again takes the dispatch
/// over, the outer loop's stale entry is skipped, and a ready handler is dispatched once, by whichever loop got to it
/// last. A list dropped without dispatching (a callback threw) leaves a stale number that the next entry replaces:
/// nothing waits on a ticket, so nothing can be stranded by one. Home thread only.
/// </summary>
internal sealed class ReadyTicket
{
    // Per thread: a handler is only ever collected on its context's home thread.
    [ThreadStatic]
    private static long t_next;

    private long _current;

    /// <summary>Takes the dispatch over; returns the number the new ready entry carries.</summary>
    public long Issue() => _current = ++t_next;

    /// <summary>True (and the ticket is spent) if <paramref name="number"/> is the current one.</summary>
    public bool TryRedeem(long number)
    {
        if (_current != number)
        {
            return false;
        }

        _current = 0;
        return true;
    }
}
