namespace Aio.Cli;

/// <summary>What <c>aio bench</c> runs.</summary>
internal sealed record BenchOptions
{
    public string? File { get; init; }
    public string Rw { get; init; } = "randread";
    public int BlockSize { get; init; } = 4096;
    public int IoDepth { get; init; } = 32;
    public long Size { get; init; } = 1L << 30;
    public TimeSpan Runtime { get; init; } = TimeSpan.FromSeconds(10);
    public bool Direct { get; init; } = true;
    public string Engine { get; init; } = "io_uring";
    public FdMonitorKind? Monitor { get; init; }
    public int Threads { get; init; } = 1;
    public bool Json { get; init; }
    public long MaxBatch { get; init; }

    public bool IsRandom => Rw.StartsWith("rand", StringComparison.Ordinal);

    public bool IsWrite => Rw.EndsWith("write", StringComparison.Ordinal);
}
