using System.Diagnostics;

namespace Aio.Cli;

/// <summary>A run's clock: the ramp (--ramp-time) ends at a fixed timestamp; requests submitted after it are measured.</summary>
internal sealed class RunClock
{
    private readonly long _rampEnd;

    public RunClock(TimeSpan ramp)
    {
        _rampEnd = Stopwatch.GetTimestamp() + (long)(ramp.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Whether a request submitted at <paramref name="start"/> counts (it began after the ramp).</summary>
    public bool Measuring(long start) => start >= _rampEnd;

    /// <summary>Seconds measured until now (0 when stopped during the ramp).</summary>
    public double MeasuredSeconds => Math.Max(0, Stopwatch.GetElapsedTime(_rampEnd).TotalSeconds);

    /// <summary>Blocks until the ramp is over, or <paramref name="ct"/> is cancelled.</summary>
    public void WaitForRamp(CancellationToken ct)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), _rampEnd);
        if (left > TimeSpan.Zero)
        {
            ct.WaitHandle.WaitOne(left);
        }
    }
}
