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
    /// deadline: each retry gets the time left, and once it has passed the call counts as timed out (returns 0: for
    /// ppoll and epoll_wait nothing ready, for io_uring_enter nothing submitted, which an EINTR also means). Negative
    /// and 0 are passed on unchanged.
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
                timeoutNs = deadline - MonotonicClock.Ns;
                if (timeoutNs <= 0)
                {
                    // Interrupted at (or after) its deadline: the wait is over, with nothing ready. Another call could
                    // be interrupted again and push every timer back; the caller's next iteration looks anyway.
                    return 0;
                }
            }
        }
    }

    /// <summary>Calls <paramref name="call"/> (which takes no timeout) until it does not fail with EINTR.</summary>
    public static long Retry<TCall>(ref TCall call)
        where TCall : struct, IInterruptibleCall
        => Retry(ref call, -1);
}
