namespace Aio.Interop;

/// <summary>
/// The one EINTR retry loop. The runtime suspends threads with signals (GC, thread abort, debugger), so any blocking
/// call can fail with EINTR at any moment; a wait must then go on for the time it has left, never end early and never
/// start its full timeout again.
/// </summary>
internal static class Eintr
{
    /// <summary>
    /// Calls <paramref name="call"/> until it does not fail with EINTR. A positive <paramref name="timeoutNs"/> is a
    /// deadline: each retry gets the time left, and once it has passed, one last call with 0 (a non-blocking look, so a
    /// wait interrupted at its very end still reports what became ready). Negative and 0 are passed on unchanged.
    /// Returns the last result; errno is in <see cref="Errors.LastErrno"/> when it is negative.
    /// </summary>
    public static long Retry<TCall>(ref TCall call, long timeoutNs)
        where TCall : struct, IInterruptibleCall
    {
        long deadline = timeoutNs > 0 ? MonotonicClock.Ns + timeoutNs : 0;
        while (true)
        {
            long rc = call.Invoke(timeoutNs);
            if (rc >= 0 || Errors.LastErrno != Errno.EINTR)
            {
                return rc;
            }

            if (timeoutNs > 0)
            {
                timeoutNs = Math.Max(0, deadline - MonotonicClock.Ns);
            }
        }
    }

    /// <summary>Calls <paramref name="call"/> (which takes no timeout) until it does not fail with EINTR.</summary>
    public static long Retry<TCall>(ref TCall call)
        where TCall : struct, IInterruptibleCall
        => Retry(ref call, -1);
}
