namespace Aio.Cli.Net;

/// <summary>What <c>aio bench net</c> runs.</summary>
internal sealed record NetBenchOptions
{
    public int Connections { get; init; } = 64;

    public IReadOnlyList<int> Sizes { get; init; } = [64, 1024, 16384];

    public int StreamSize { get; init; } = 1 << 20;

    public int Loops { get; init; } = Environment.ProcessorCount;

    public TimeSpan Runtime { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    public int Rounds { get; init; } = 3;
}
