using System.Diagnostics;

namespace Aio.Interop;

/// <summary>CLOCK_MONOTONIC in nanoseconds (Stopwatch on Linux), for recomputing a timeout after EINTR.</summary>
internal static class MonotonicClock
{
    private static readonly double s_tickToNs = 1e9 / Stopwatch.Frequency;

    public static long Ns
    {
        get
        {
            long ticks = Stopwatch.GetTimestamp();
            return Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)(ticks * s_tickToNs);
        }
    }
}
