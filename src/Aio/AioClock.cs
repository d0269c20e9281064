namespace Aio;

/// <summary>The clock a timer's deadline is measured on.</summary>
public enum AioClock
{
    /// <summary>CLOCK_MONOTONIC in nanoseconds: unaffected by changes of the wall clock.</summary>
    Monotonic,

    /// <summary>CLOCK_REALTIME in nanoseconds since the Unix epoch.</summary>
    WallClock,
}
