using System.Globalization;
using Aio.Diagnostics;

namespace Aio;

// Per-context warnings. Aio's EventSource writes every context's warnings to every listener in the process, and tells
// them apart only by the context's name, which several servers (or a test host per test) may share; a subscriber to
// one context's Warning hears that context's and nobody else's, without an EventListener. The Kestrel transport routes
// the warnings of the loops it owns to its ILogger this way.
public sealed partial class AioContext
{
    private Action<AioContext, AioWarning>? _warning;

    /// <summary>
    /// Raised for every warning Aio's EventSource writes about this context: a loop stalled by a callback
    /// (<c>LoopStalled</c>, see <see cref="AioContextOptions.LoopStallThreshold"/>), an fd removed because it became
    /// invalid while registered, a ring request that nobody runs the loop for, a fallback (multishot receives, or
    /// requests abandoned at Dispose). Raised whether or not anybody listens to the EventSource; while this context has
    /// a subscriber, the stall watchdog samples (it otherwise parks while nobody listens).
    /// </summary>
    /// <remarks>
    /// Raised on whichever thread noticed: the stall watchdog's timer, a loop-watch timer, the loop thread (with the
    /// loop's handler table locked). A handler must return quickly and must not call back into this context's
    /// handler registration. An exception a handler throws is dropped (and the other handlers still run): on a timer
    /// thread it would end the process, on the loop thread it would break the iteration that is removing the fd.
    /// Warnings raised while the context is being created (a monitor fallback) come before anybody could subscribe; the
    /// EventSource has them, and <see cref="Monitor"/> tells which monitor serves.
    /// </remarks>
    public event Action<AioContext, AioWarning>? Warning
    {
        add
        {
            Action<AioContext, AioWarning>? seen, combined;
            do
            {
                seen = Volatile.Read(ref _warning);
                combined = (Action<AioContext, AioWarning>?)Delegate.Combine(seen, value);
            }
            while (Interlocked.CompareExchange(ref _warning, combined, seen) != seen);

            // Somebody listens now: a watchdog parked for want of listeners samples again. After the exchange (a full
            // fence), so a pass that parks under the watchdog's lock sees this subscriber, or Resume un-parks it.
            LoopStallWatchdog.Resume();
        }

        remove
        {
            Action<AioContext, AioWarning>? seen, remaining;
            do
            {
                seen = Volatile.Read(ref _warning);
                remaining = (Action<AioContext, AioWarning>?)Delegate.Remove(seen, value);
            }
            while (Interlocked.CompareExchange(ref _warning, remaining, seen) != seen);
        }
    }

    /// <summary>Whether <see cref="Warning"/> has a subscriber (the stall watchdog samples while any live context has one).</summary>
    internal bool HasWarningSubscribers => Volatile.Read(ref _warning) is not null;

    /// <summary>Hands a warning to this context's subscribers, formatted as the EventSource formats it. Any thread.</summary>
    internal void RaiseWarning(int eventId, string eventName, string format, params object[] payload)
    {
        var handlers = Volatile.Read(ref _warning);
        if (handlers is null)
        {
            return;
        }

        var warning = new AioWarning(eventId, eventName, string.Format(CultureInfo.InvariantCulture, format, payload));
        foreach (var handler in Delegate.EnumerateInvocationList(handlers))
        {
            try
            {
                handler(this, warning);
            }
            catch (Exception)
            {
                // Dropped, as the event's remarks say: the thread that noticed is no place for it to surface.
            }
        }
    }
}
