using System.Collections.Concurrent;

namespace Aio;

// After the teardown. Dispose marks the context disposed first and tears it down after (DisposeCore: bottom halves,
// kernel requests, the network state, the monitor). Code that must touch what the loop owned once the loop is gone (a
// socket closed after its context, whose close cannot run on the loop any more) must wait for the end of that
// teardown, not only for IsDisposed: before it, the disposing thread may still be ending that very socket's requests.
public sealed partial class AioContext
{
    private readonly ConcurrentQueue<Action> _afterTeardown = new();
    private int _tornDown;

    /// <summary>
    /// Runs <paramref name="action"/> once the context has been disposed and its teardown finished: at once on the
    /// calling thread if it has, otherwise on the disposing thread at the end of the teardown. Any thread; call only once
    /// <see cref="IsDisposed"/> is true (the action never runs otherwise).
    /// </summary>
    internal void RunAfterTeardown(Action action)
    {
        _afterTeardown.Enqueue(action);

        // Pairs with EndTeardown (both sides a full fence between their write and their read: the enqueue's interlocked
        // operation here, the exchange there): either it drains after this enqueue, or this thread sees the flag.
        if (Volatile.Read(ref _tornDown) != 0)
        {
            DrainAfterTeardown();
        }
    }

    /// <summary>The last step of the teardown (the disposing thread).</summary>
    private void EndTeardown()
    {
        Interlocked.Exchange(ref _tornDown, 1);
        DrainAfterTeardown();
    }

    private void DrainAfterTeardown()
    {
        // Every queued action runs even if one throws (each is some socket's close that somebody awaits); the first
        // exception is rethrown after.
        Exception? first = null;
        while (_afterTeardown.TryDequeue(out var action))
        {
            RunCollecting(action, ref first);
        }

        ThrowIfAny(first);
    }

    /// <summary>Runs <paramref name="step"/>; an exception it throws is kept in <paramref name="first"/> (if none is yet) instead of ending the caller's sequence.</summary>
    private static void RunCollecting(Action step, ref Exception? first)
    {
        try
        {
            step();
        }
        catch (Exception ex)
        {
            first ??= ex;
        }
    }

    /// <summary>Rethrows the exception <see cref="RunCollecting"/> kept, with its original stack, if there is one.</summary>
    private static void ThrowIfAny(Exception? first)
    {
        if (first is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }
}
