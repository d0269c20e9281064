using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>Bottom halves on the home thread: schedule one, run one iteration.</summary>
[MemoryDiagnoser]
public class LoopBenchmarks
{
    private AioContext _ctx = null!;
    private BottomHalf _bh = null!;
    private int _runs;

    [GlobalSetup]
    public void Setup()
    {
        _ctx = AioContext.Create(new AioContextOptions { Name = "bench-loop" });
        _bh = _ctx.CreateBottomHalf(() => _runs++);
        _ctx.Poll(false);
    }

    [GlobalCleanup]
    public void Cleanup() => _ctx.Dispose();

    [Benchmark(Description = "BottomHalf.Schedule + Poll(false)")]
    public bool ScheduleAndRun()
    {
        _bh.Schedule();
        return _ctx.Poll(false);
    }

    [Benchmark(Description = "Poll(false) with nothing to do")]
    public bool IdlePoll() => _ctx.Poll(false);
}
