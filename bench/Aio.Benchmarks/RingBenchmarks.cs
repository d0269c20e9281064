using Aio.Uring;
using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>NOP round trips: the raw ring, AddSqe on the home thread, AddSqe from a foreign thread to an IoThread.</summary>
[MemoryDiagnoser]
public class RingBenchmarks
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();
    private Ring _ring = null!;
    private AioContext _ctx = null!;
    private IoThread _io = null!;
    private Counter _counter = null!;
    private Signal _signal = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ring = Ring.Create(new RingOptions { Entries = 64 });
        _ring.Enable();
        _ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        _ctx.Poll(false);
        _io = IoThread.Start("bench-ring");
        _counter = new Counter();
        _signal = new Signal();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ring.Dispose();
        _ctx.Dispose();
        _io.Dispose();
    }

    [Benchmark(Description = "raw Ring NOP round trip")]
    public int RawNop()
    {
        ref var sqe = ref _ring.NextSqe();
        sqe.PrepNop();
        _ring.SubmitAndWait(1, -1);
        _ring.TryGetCqe(out var cqe);
        return cqe.Result;
    }

    [Benchmark(Description = "AddSqe NOP on the home thread + Poll")]
    public int HomeNop()
    {
        int target = _counter.Count + 1;
        _ctx.AddSqe(s_nop, 0, _counter);
        while (_counter.Count < target)
        {
            _ctx.Poll(true);
        }

        return _counter.Count;
    }

    [Benchmark(Description = "AddSqe NOP from a foreign thread to a sleeping IoThread")]
    public void ForeignNop()
    {
        _signal.Reset();
        _io.Context.AddSqe(s_nop, 0, _signal);
        _signal.Wait();
    }

    private sealed class Counter : CqeHandler
    {
        public int Count;

        protected internal override void OnCompletion(in Cqe cqe) => Count++;
    }

    private sealed class Signal : CqeHandler
    {
        private readonly ManualResetEventSlim _done = new();

        public void Reset() => _done.Reset();

        public void Wait() => _done.Wait();

        protected internal override void OnCompletion(in Cqe cqe) => _done.Set();
    }
}
