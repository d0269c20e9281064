using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>A callback that throws: the exception leaves Poll, and the loop goes on serving everything else.</summary>
public class ThrowingCallbackTests
{
    public static TheoryData<FdMonitorKind, CallbackKind> Throwers
    {
        get
        {
            var data = new TheoryData<FdMonitorKind, CallbackKind>();
            foreach (var monitor in MonitorKinds.Kinds)
            {
                foreach (var kind in Enum.GetValues<CallbackKind>())
                {
                    // InvokeAsync work never throws out of Poll: its task faults (a test of its own below).
                    if (kind != CallbackKind.InvokeAsync && CallbackScene.Applies(monitor, kind))
                    {
                        data.Add(monitor, kind);
                    }
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Throwers))]
    public void A_throwing_callback_leaves_Poll_and_every_other_ready_callback_still_runs_once(FdMonitorKind monitor, CallbackKind thrower)
    {
        using var ctx = MonitorKinds.Create(monitor, CallbackScene.PollMaxNs);
        using var scene = new CallbackScene(ctx, thrower, () => throw new CallbackFailure());
        scene.WarmUp();
        scene.Arm();
        int thrown = CallbackScene.PollUntil<CallbackFailure>(ctx, () => scene.ActionDone && scene.AllRan(), $"every callback after {thrower} threw", state: scene.Describe);
        Assert.Equal(1, thrown);
        scene.AssertEachRanOnce();
        Assert.True(scene.Invoked!.IsCompletedSuccessfully);
        Assert.Null(AioContext.Current);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_throwing_pollReady_leaves_the_other_handlers_of_its_busy_poll_pass_to_the_next_Poll(FdMonitorKind monitor)
    {
        using var ctx = MonitorKinds.Create(monitor, CallbackScene.PollMaxNs);
        bool thrownYet = false;
        using var polled = new PolledTrio(ctx, pollReady: () =>
        {
            // Whichever runs first throws: the other two were found by the same pass.
            if (!thrownYet)
            {
                thrownYet = true;
                throw new CallbackFailure();
            }
        });
        polled.GiveAllWork();
        int thrown = CallbackScene.PollUntil<CallbackFailure>(ctx, () => polled.ReadyRuns == 3, "the pollReady of the two handlers the throw left behind");
        Assert.Equal(1, thrown);
        Assert.Equal(3, polled.ReadyRuns);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_throwing_poll_check_leaves_the_handlers_it_found_before_it_to_the_next_Poll(FdMonitorKind monitor)
    {
        using var ctx = MonitorKinds.Create(monitor, CallbackScene.PollMaxNs);
        using var polled = new PolledTrio(ctx, pollReady: () => { });
        polled.ThrowFromThirdSuccessfulPoll = true;
        polled.GiveAllWork();
        int thrown = CallbackScene.PollUntil<CallbackFailure>(ctx, () => polled.ReadyRuns == 3, "the pollReady of every handler with work");
        Assert.Equal(1, thrown);
        Assert.Equal(3, polled.ReadyRuns);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Throwing_InvokeAsync_work_faults_its_task_and_the_loop_goes_on(FdMonitorKind monitor)
    {
        using var ctx = MonitorKinds.Create(monitor);
        var failing = ctx.InvokeAsync(() => throw new CallbackFailure());
        var failingLater = ctx.InvokeAsync(async () =>
        {
            await Task.Yield();
            throw new CallbackFailure();
        });
        var fine = ctx.InvokeAsync(() => Task.FromResult(42));
        LoopDriver.PollUntil(ctx, () => failing.IsCompleted && failingLater.IsCompleted && fine.IsCompleted, "the three invocations");
        Assert.IsType<CallbackFailure>(Assert.Single(failing.Exception!.InnerExceptions));
        Assert.IsType<CallbackFailure>(Assert.Single(failingLater.Exception!.InnerExceptions));
        Assert.Equal(42, fine.Result);
    }

    /// <summary>
    /// Three busy-polled handlers (poll checks a flag, pollReady consumes it), in the polling set with a window.
    /// </summary>
    private sealed class PolledTrio : IDisposable
    {
        private readonly AioContext _ctx;
        private readonly EventNotifier[] _fds = [new(), new(), new()];
        private readonly bool[] _work = new bool[3];
        private int _successfulPolls;

        public PolledTrio(AioContext ctx, Action pollReady)
        {
            _ctx = ctx;
            for (int i = 0; i < 3; i++)
            {
                int me = i;
                ctx.SetEventNotifier(_fds[i], e => e.TestAndClear(), _ => Poll(me), _ =>
                {
                    _work[me] = false;
                    ReadyRuns++;
                    pollReady();
                });
            }

            for (int round = 0; round < 20 && !Warm(); round++)
            {
                foreach (var e in _fds)
                {
                    e.Set();
                }

                LoopDriver.PollUntil(ctx, () => _fds.All(e => Libc.PollOne(e.Fd, Libc.POLLIN, 0) == 0), "the three handlers' fd dispatch");
            }

            Assert.True(Warm(), "the handlers never joined the polling set with a window");
        }

        public int ReadyRuns { get; private set; }

        public bool ThrowFromThirdSuccessfulPoll { get; set; }

        public void GiveAllWork()
        {
            _successfulPolls = 0;
            Array.Fill(_work, true);
        }

        public void Dispose()
        {
            foreach (var e in _fds)
            {
                _ctx.RemoveFdHandler(e.Fd);
                e.Dispose();
            }
        }

        private bool Poll(int index)
        {
            if (!_work[index])
            {
                return false;
            }

            if (ThrowFromThirdSuccessfulPoll && ++_successfulPolls == 3)
            {
                // The two handlers polled before this one in the same pass already reported work.
                ThrowFromThirdSuccessfulPoll = false;
                throw new CallbackFailure();
            }

            return true;
        }

        private bool Warm() => _fds.All(e => _ctx.IsPolled(e.Fd) && _ctx.PollWindowOf(e.Fd) > 0);
    }
}
