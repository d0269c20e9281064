using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>fd readiness round trip between two IoThreads (<see cref="PingPong"/>), per monitor, polling off and on.</summary>
public class FdPingPongBenchmarks
{
    private PingPong _pingPong = null!;

    [Params(FdMonitorKind.Poll, FdMonitorKind.Epoll, FdMonitorKind.IoUring)]
    public FdMonitorKind Monitor { get; set; }

    [Params(0L, 32768L)]
    public long PollMaxNs { get; set; }

    [GlobalSetup]
    public void Setup() => _pingPong = new PingPong(Monitor, PollMaxNs);

    [GlobalCleanup]
    public void Cleanup() => _pingPong.Dispose();

    [Benchmark(OperationsPerInvoke = 1000, Description = "eventfd round trip between two IoThreads")]
    public void RoundTrips() => _pingPong.Run(1000);
}
