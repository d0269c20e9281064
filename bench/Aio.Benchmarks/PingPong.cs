namespace Aio.Benchmarks;

/// <summary>
/// Two IoThreads bouncing a token: the producer sets a flag (shared memory, like a virtqueue) and kicks an eventfd;
/// the consumer's busy-poll callback looks only at the flag. Used by <see cref="PollingFigures"/>.
/// </summary>
internal sealed class PingPong : IDisposable
{
    private readonly IoThread _a;
    private readonly IoThread _b;
    private readonly EventNotifier _toA = new();
    private readonly EventNotifier _toB = new();
    private readonly ManualResetEventSlim _done = new();
    private int _flagA;
    private int _flagB;
    private int _remaining;

    public PingPong(FdMonitorKind monitor, long pollMaxNs)
    {
        var options = new AioContextOptions { Monitor = monitor, PollMaxNs = Math.Max(1, pollMaxNs) };
        _a = IoThread.Start("ping", options);
        _b = IoThread.Start("pong", options);
        _a.Context.SetPollParameters(pollMaxNs, 0, 0);
        _b.Context.SetPollParameters(pollMaxNs, 0, 0);
        _b.Context.SetEventNotifier(_toB, OnB, _ => Volatile.Read(ref _flagB) != 0, OnB);
        _a.Context.SetEventNotifier(_toA, OnA, _ => Volatile.Read(ref _flagA) != 0, OnA);
    }

    public AioContext A => _a.Context;

    public void Run(int roundTrips)
    {
        _done.Reset();
        _remaining = roundTrips;
        Volatile.Write(ref _flagB, 1);
        _toB.Set();
        if (!_done.Wait(TimeSpan.FromMinutes(2)))
        {
            throw new TimeoutException("ping-pong stalled");
        }
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _toA.Dispose();
        _toB.Dispose();
        _done.Dispose();
    }

    private void OnB(EventNotifier e)
    {
        e.TestAndClear();
        if (Interlocked.Exchange(ref _flagB, 0) != 0)
        {
            Volatile.Write(ref _flagA, 1);
            _toA.Set();
        }
    }

    private void OnA(EventNotifier e)
    {
        e.TestAndClear();
        if (Interlocked.Exchange(ref _flagA, 0) == 0)
        {
            return;
        }

        if (--_remaining == 0)
        {
            _done.Set();
        }
        else
        {
            Volatile.Write(ref _flagB, 1);
            _toB.Set();
        }
    }
}
