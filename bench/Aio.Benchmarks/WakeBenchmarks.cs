using Aio.Interop;
using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>
/// Cross-thread wake: a one-shot scheduled from this thread onto a sleeping IoThread, which answers through an
/// eventfd; against the same ping-pong on two raw eventfds between two threads (the floor).
/// </summary>
public class WakeBenchmarks
{
    private IoThread _io = null!;
    private EventNotifier _reply = null!;
    private Action _answer = null!;
    private Thread _echo = null!;
    private int _ping;
    private int _pong;
    private int _pollPing;
    private int _pollPong;
    private Thread _pollEcho = null!;
    private volatile bool _stop;

    [Params(0L, 32768L)]
    public long PollMaxNs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _io = IoThread.Start("bench-wake");
        _io.Context.SetPollParameters(PollMaxNs, 0, 0);
        _reply = new EventNotifier();
        _answer = () => _reply.Set();
        _ping = Errors.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC), "eventfd");
        _pong = Errors.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC), "eventfd");
        _echo = new Thread(() =>
        {
            while (!_stop)
            {
                Libc.EventFdRead(_ping, out _);
                Libc.EventFdWrite(_pong, 1);
            }
        }) { IsBackground = true };
        _echo.Start();

        // The same ping-pong, but each side sleeps in ppoll before reading, as any event loop must.
        _pollPing = Errors.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        _pollPong = Errors.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        _pollEcho = new Thread(() =>
        {
            while (!_stop)
            {
                Libc.PollOne(_pollPing, Libc.POLLIN, -1);
                Libc.EventFdRead(_pollPing, out _);
                Libc.EventFdWrite(_pollPong, 1);
            }
        }) { IsBackground = true };
        _pollEcho.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        Libc.EventFdWrite(_ping, 1);
        _echo.Join();
        Libc.EventFdWrite(_pollPing, 1);
        _pollEcho.Join();
        Libc.CloseQuietly(_ping);
        Libc.CloseQuietly(_pong);
        Libc.CloseQuietly(_pollPing);
        Libc.CloseQuietly(_pollPong);
        _io.Dispose();
        _reply.Dispose();
    }

    [Benchmark(Description = "ScheduleOneShot to a sleeping IoThread, reply by eventfd")]
    public void LoopRoundTrip()
    {
        _io.Context.ScheduleOneShot(_answer);
        while (Libc.PollOne(_reply.Fd, Libc.POLLIN, -1) <= 0)
        {
        }

        _reply.TestAndClear();
    }

    [Benchmark(Description = "raw eventfd ping-pong, both sides sleeping in ppoll")]
    public void PollingEventFdPingPong()
    {
        Libc.EventFdWrite(_pollPing, 1);
        Libc.PollOne(_pollPong, Libc.POLLIN, -1);
        Libc.EventFdRead(_pollPong, out _);
    }

    [Benchmark(Baseline = true, Description = "raw eventfd ping-pong between two threads")]
    public void EventFdPingPong()
    {
        Libc.EventFdWrite(_ping, 1);
        Libc.EventFdRead(_pong, out _);
    }
}
