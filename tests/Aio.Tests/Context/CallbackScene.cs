using System.Diagnostics;
using Aio.Interop;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// One callback of every kind on one context, armed together, with one <em>special</em> callback that runs an action
/// (throw, dispose the context) the first time its payload runs. Every kind counts its payload runs, so a test can
/// check that nothing ready was lost or stranded. Two handlers are busy-polled: P (which may be the special one) and
/// Q (always ordinary); every fd handler has a poll callback, so poll(2) and epoll busy-poll too.
/// </summary>
internal sealed class CallbackScene : IDisposable
{
    /// <summary>Polling ceiling of a scene's context: long enough that one slow iteration does not reset a window.</summary>
    public const long PollMaxNs = 50_000_000;

    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    private readonly AioContext _ctx;
    private readonly CallbackKind _special;
    private readonly Action _action;
    private readonly int[] _runs = new int[Enum.GetValues<CallbackKind>().Length];
    private readonly EventNotifier _readable = new();
    private readonly EventNotifier _polled = new();
    private readonly EventNotifier _otherPolled = new();
    private readonly (int Read, int Write) _pipe = Libc.CreatePipe();
    private readonly (int Read, int Write) _silentPipe = Libc.CreatePipe();
    private readonly SafeFileHandle _pipeRead;
    private readonly BottomHalf _bh;
    private readonly AioTimer _timer;
    private readonly bool _hasRing;
    private bool _pollWork;
    private bool _otherPollWork;

    public CallbackScene(AioContext ctx, CallbackKind special, Action action)
    {
        _ctx = ctx;
        _special = special;
        _action = action;
        _hasRing = ctx.HasIoUring;
        _pipeRead = new SafeFileHandle(_silentPipe.Read, ownsHandle: false);
        _bh = ctx.CreateBottomHalf(() => Payload(CallbackKind.BottomHalf));
        _timer = ctx.CreateTimer(AioClock.Monotonic, () => Payload(CallbackKind.Timer));
    }

    /// <summary>The special callback has run (and its action started).</summary>
    public bool ActionDone { get; private set; }

    /// <summary>Runs of Q's pollReady.</summary>
    public int OtherPolledRuns { get; private set; }

    /// <summary>The InvokeAsync work armed by <see cref="Arm"/>.</summary>
    public Task? Invoked { get; private set; }

    /// <summary>io_uring: a WaitAsync on a pipe nobody writes, in flight from <see cref="Arm"/> on.</summary>
    public Task<PollEvents>? PendingWait { get; private set; }

    public int Runs(CallbackKind kind) => _runs[(int)kind];

    /// <summary>The run counts, for failure messages.</summary>
    public string Describe()
        => string.Join(", ", Enum.GetValues<CallbackKind>().Select(k => $"{k}={Runs(k)}")) + $", Q={OtherPolledRuns}";

    /// <summary>The kinds that exist on this context (no completions without io_uring).</summary>
    public static bool Applies(FdMonitorKind monitor, CallbackKind kind) => kind != CallbackKind.Completion || monitor == FdMonitorKind.IoUring;

    /// <summary>Polls (blocking) until <paramref name="condition"/>; counts the <typeparamref name="TException"/>s that escape Poll.</summary>
    public static int PollUntil<TException>(AioContext ctx, Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
        where TException : Exception
    {
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var sw = Stopwatch.StartNew();

        // A stranded callback leaves the loop asleep: the watchdog wakes it so that the test fails instead of hanging.
        using var watchdog = new Timer(_ => LoopDriver.SafeNotify(ctx), null, limit, TimeSpan.FromMilliseconds(100));
        int thrown = 0;
        while (!condition())
        {
            Assert.True(sw.Elapsed < limit, $"Timed out after {limit.TotalSeconds:0.#} s polling for {what}. {state?.Invoke()}");
            try
            {
                ctx.Poll(true);
            }
            catch (TException)
            {
                thrown++;
            }
        }

        return thrown;
    }

    /// <summary>Registers the handlers and dispatches P and Q through their fds until both are busy-polled with a window.</summary>
    public void WarmUp()
    {
        _ctx.SetEventNotifier(_readable, e =>
        {
            if (e.TestAndClear())
            {
                Payload(CallbackKind.FdRead);
            }
        }, _ => false);
        _ctx.SetEventNotifier(_polled, e => e.TestAndClear(), _ => PollP(), _ => PollReadyP());
        _ctx.SetEventNotifier(_otherPolled, e => e.TestAndClear(), _ => _otherPollWork, _ =>
        {
            _otherPollWork = false;
            OtherPolledRuns++;
        });
        for (int i = 0; i < 20 && !Warm(); i++)
        {
            _polled.Set();
            _otherPolled.Set();
            LoopDriver.PollUntil(_ctx, () => !Readable(_polled) && !Readable(_otherPolled), "P and Q to be dispatched through their fds");
        }

        Assert.True(Warm(), "P and Q never joined the polling set with a window");
    }

    /// <summary>Makes one callback of every kind ready at once.</summary>
    public void Arm()
    {
        _bh.Schedule();
        _ctx.ScheduleOneShot(() => Payload(CallbackKind.OneShot));
        _timer.ArmAt(_ctx.Now(AioClock.Monotonic));
        _readable.Set();
        _ctx.SetFdHandler(_pipe.Write, null, OnWritable, () => false);
        _pollWork = true;
        _otherPollWork = true;
        if (_hasRing)
        {
            _ctx.AddSqe(s_nop, 0, new PayloadHandler(this));
            PendingWait = _ctx.WaitAsync(_pipeRead, PollEvents.In).AsTask();
        }

        Invoked = _ctx.InvokeAsync(() =>
        {
            Payload(CallbackKind.InvokeAsync);
            return Task.CompletedTask;
        });
    }

    /// <summary>Every armed callback has run at least once.</summary>
    public bool AllRan()
    {
        foreach (var kind in Enum.GetValues<CallbackKind>())
        {
            if (Applies(_hasRing ? FdMonitorKind.IoUring : FdMonitorKind.Poll, kind) && Runs(kind) == 0)
            {
                return false;
            }
        }

        return OtherPolledRuns > 0;
    }

    /// <summary>Every kind ran exactly once (the poll check: at least once, it runs on every pass while its work waits).</summary>
    public void AssertEachRanOnce()
    {
        foreach (var kind in Enum.GetValues<CallbackKind>())
        {
            if (!Applies(_hasRing ? FdMonitorKind.IoUring : FdMonitorKind.Poll, kind))
            {
                continue;
            }

            if (kind == CallbackKind.Poll)
            {
                // Called on every pass while its work waits.
                Assert.True(Runs(kind) >= 1, $"{kind} never ran");
            }
            else
            {
                Assert.True(Runs(kind) == 1, $"{kind} ran {Runs(kind)} times");
            }
        }

        Assert.Equal(1, OtherPolledRuns);
    }

    public void Dispose()
    {
        try
        {
            _ctx.RemoveFdHandler(_readable.Fd);
            _ctx.RemoveFdHandler(_polled.Fd);
            _ctx.RemoveFdHandler(_otherPolled.Fd);
            _ctx.RemoveFdHandler(_pipe.Write);
        }
        catch (ObjectDisposedException)
        {
            // The scene's context was disposed (on purpose): it holds nothing any more.
        }

        _readable.Dispose();
        _polled.Dispose();
        _otherPolled.Dispose();
        _pipeRead.Dispose();
        Libc.CloseQuietly(_pipe.Read);
        Libc.CloseQuietly(_pipe.Write);
        Libc.CloseQuietly(_silentPipe.Read);
        Libc.CloseQuietly(_silentPipe.Write);
    }

    private static bool Readable(EventNotifier e) => Libc.PollOne(e.Fd, Libc.POLLIN, 0) > 0;

    private bool Warm() => _ctx.IsPolled(_polled.Fd) && _ctx.IsPolled(_otherPolled.Fd)
        && _ctx.PollWindowOf(_polled.Fd) > 0 && _ctx.PollWindowOf(_otherPolled.Fd) > 0;

    private void OnWritable()
    {
        // Fill the pipe, so that it is writable exactly once. (An fd ready on every iteration would keep io_uring from
        // ever busy-polling: its re-armed poll completes at once, and NeedWait is then true. Removing the handler
        // instead would leave a POLL_REMOVE completion that nobody waits for, which skips the busy-poll too.)
        var fill = new byte[65536];
        while (Libc.WriteSpan(_pipe.Write, fill) > 0)
        {
        }

        Payload(CallbackKind.FdWrite);
    }

    private bool PollP()
    {
        if (!_pollWork)
        {
            return false;
        }

        Payload(CallbackKind.Poll);
        return true;
    }

    private void PollReadyP()
    {
        _pollWork = false;
        Payload(CallbackKind.PollReady);
    }

    private void Payload(CallbackKind kind)
    {
        _runs[(int)kind]++;
        if (kind == _special && !ActionDone)
        {
            ActionDone = true;
            _action();
        }
    }

    private sealed class PayloadHandler(CallbackScene scene) : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe) => scene.Payload(CallbackKind.Completion);
    }
}
