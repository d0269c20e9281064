namespace Aio.Nbd;

/// <summary>
/// The buffer bytes one connection holds: payloads and read buffers of the requests executing, and replies queued
/// but not yet sent. The receive loop reserves a request's bytes before it reads its payload or starts it and waits
/// while the connection is over its limit, so neither large requests nor a client that stops reading its replies
/// makes the server hold more than about the limit plus one request.
/// </summary>
/// <remarks>
/// One waiter only (the receive loop); reservations from the reply queue never wait (the request that produced the
/// reply already paid for it, and its reservation ends after the reply is queued).
/// </remarks>
internal sealed class NbdByteBudget
{
    private readonly long _limit;
    private long _held;
    private long _peak;
    private readonly Action? _onWait;
    private TaskCompletionSource? _freed;

    /// <param name="limit">The bytes above which a reservation waits.</param>
    /// <param name="onWait">Called on the receive loop each time a reservation has to wait for room (for tests).</param>
    public NbdByteBudget(long limit, Action? onWait = null)
    {
        _limit = limit;
        _onWait = onWait;
    }

    /// <summary>The most this connection held at once (for tests and diagnostics).</summary>
    public long Peak => Volatile.Read(ref _peak);

    /// <summary>
    /// Reserves <paramref name="bytes"/> once the connection holds little enough that they fit, or holds nothing (so a
    /// request larger than the limit runs alone rather than never).
    /// </summary>
    public ValueTask ReserveAsync(long bytes, CancellationToken ct)
        => TryReserve(bytes) ? ValueTask.CompletedTask : WaitAndReserveAsync(bytes, ct);

    /// <summary>Takes <paramref name="bytes"/> whatever the connection holds (a reply's bytes).</summary>
    public void Add(long bytes) => RaiseTo(ref _peak, Interlocked.Add(ref _held, bytes));

    /// <summary>Gives back <paramref name="bytes"/> and wakes the receive loop if it waits.</summary>
    public void Release(long bytes)
    {
        Interlocked.Add(ref _held, -bytes);

        // After the subtraction (both full fences): a waiter that published its completion source before this read
        // is woken; one that publishes after it re-reads _held and sees the subtraction.
        Interlocked.Exchange(ref _freed, null)?.TrySetResult();
    }

    /// <summary>
    /// Whether <paramref name="bytes"/> would fit now, as <see cref="ReserveAsync"/> decides, without taking them: for
    /// work the receive loop does in place, whose only cost is the reply it queues.
    /// </summary>
    public bool HasRoom(long bytes)
    {
        long held = Volatile.Read(ref _held);
        return held == 0 || held + bytes <= _limit;
    }

    private bool TryReserve(long bytes)
    {
        if (!HasRoom(bytes))
        {
            return false;
        }

        // Only the receive loop reserves, so nothing can slip in between the check and the add but releases and
        // replies' adds, which only shrink the room a little while a release is on its way.
        Add(bytes);
        return true;
    }

    private async ValueTask WaitAndReserveAsync(long bytes, CancellationToken ct)
    {
        while (true)
        {
            var freed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _freed, freed);
            if (TryReserve(bytes))
            {
                Interlocked.CompareExchange(ref _freed, null, freed);
                return;
            }

            _onWait?.Invoke();
            await freed.Task.WaitAsync(ct).ConfigureAwait(true);
            if (TryReserve(bytes))
            {
                return;
            }
        }
    }

    /// <summary>Raises <paramref name="location"/> to <paramref name="value"/> if it is lower (a lock-free maximum).</summary>
    public static void RaiseTo(ref long location, long value)
    {
        long peak = Volatile.Read(ref location);
        while (value > peak)
        {
            long seen = Interlocked.CompareExchange(ref location, value, peak);
            if (seen == peak)
            {
                return;
            }

            peak = seen;
        }
    }
}
