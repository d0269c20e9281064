namespace Aio.Cli;

/// <summary>The figures of one benchmark run.</summary>
/// <param name="Engine">The row's name.</param>
/// <param name="Ios">Requests completed in the measured time (after the ramp).</param>
/// <param name="Seconds">The measured time: shorter than asked when interrupted.</param>
/// <param name="Latency">From submission to completion; null where the tool does not report it (the C loop).</param>
/// <param name="CpuUserS">Process user CPU time over the run.</param>
/// <param name="CpuSysS">Process system CPU time over the run.</param>
/// <param name="AllocsPerIo">Managed bytes allocated per request; NaN for the external tools.</param>
/// <param name="BlockSize">The request size.</param>
internal sealed record BenchResult(
    string Engine,
    long Ios,
    double Seconds,
    LatencyStats? Latency,
    double CpuUserS,
    double CpuSysS,
    double AllocsPerIo,
    int BlockSize)
{
    /// <summary>Of <see cref="Ios"/>, the reads (the rest wrote).</summary>
    public long Reads { get; init; }

    /// <summary>
    /// The loops' counters over the measured part, summed over the loops (null for the rows that run no loop): how
    /// often they entered the kernel and slept, and what their busy-polling found.
    /// </summary>
    public LoopCounters? Loop { get; init; }

    /// <summary>Blocks read back by --verify, and how many of them did not hold what was written.</summary>
    public (long Checked, long Mismatches)? Verify { get; init; }

    public double Iops => Seconds > 0 ? Ios / Seconds : 0;

    public double MBps => Seconds > 0 ? Ios * (double)BlockSize / Seconds / 1e6 : 0;
}
