namespace Aio.Cli;

/// <summary>What <c>aio bench</c> runs (fio's names where fio has one).</summary>
internal sealed record BenchOptions
{
    public string? File { get; init; }
    public string Rw { get; init; } = "randread";

    /// <summary>For the mixed workloads (rw, randrw): the percentage of requests that read.</summary>
    public int RwMixRead { get; init; } = 50;
    public int BlockSize { get; init; } = 4096;
    public int IoDepth { get; init; } = 32;

    /// <summary>Where the region starts in the file.</summary>
    public long Offset { get; init; }

    /// <summary>The region's length; null: the rest of the file (a scratch file gets 1 GiB).</summary>
    public long? Size { get; init; }
    public TimeSpan Runtime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Run this long before measuring (not counted, not in the histogram).</summary>
    public TimeSpan RampTime { get; init; }
    public bool Direct { get; init; } = true;
    public string Engine { get; init; } = "io_uring";
    public FdMonitorKind? Monitor { get; init; }
    public int Threads { get; init; } = 1;
    public bool Json { get; init; }
    public long MaxBatch { get; init; }

    /// <summary>--poll-max-ns: the loops' busy-poll ceiling (QEMU's poll-max-ns; 0 turns polling off), or null for the default.</summary>
    public long? PollMaxNs { get; init; }

    /// <summary>--cpus-allowed: the CPUs each loop thread (and the comparison rows) may run on, or null for any.</summary>
    public CpuList? CpusAllowed { get; init; }

    /// <summary>Every write carries a pattern derived from its offset; the blocks written are read back and checked.</summary>
    public bool Verify { get; init; }

    public bool IsRandom => Rw.StartsWith("rand", StringComparison.Ordinal);

    /// <summary>Percentage of requests that read: 100 for reads, 0 for writes, <see cref="RwMixRead"/> when mixed.</summary>
    public int ReadPercent => Rw switch
    {
        "read" or "randread" => 100,
        "write" or "randwrite" => 0,
        _ => RwMixRead,
    };

    public bool Writes => ReadPercent < 100;

    public bool IsMixed => ReadPercent is > 0 and < 100;
}
