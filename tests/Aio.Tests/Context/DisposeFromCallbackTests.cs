using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>Dispose called by the loop's own callbacks: Poll unwinds without touching the monitor again.</summary>
public class DisposeFromCallbackTests
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    public static TheoryData<FdMonitorKind, CallbackKind> Disposers
    {
        get
        {
            var data = new TheoryData<FdMonitorKind, CallbackKind>();
            foreach (var monitor in MonitorKinds.Kinds)
            {
                foreach (var kind in Enum.GetValues<CallbackKind>())
                {
                    if (CallbackScene.Applies(monitor, kind))
                    {
                        data.Add(monitor, kind);
                    }
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Disposers))]
    public void Dispose_from_inside_a_callback_unwinds_Poll_and_leaves_the_context_disposed(FdMonitorKind monitor, CallbackKind disposer)
    {
        var ctx = MonitorKinds.Create(monitor, CallbackScene.PollMaxNs);
        var outerSync = SynchronizationContext.Current;
        using var scene = new CallbackScene(ctx, disposer, ctx.Dispose);
        scene.WarmUp();
        scene.Arm();

        // No exception may leave Poll: the callback's Dispose succeeded, and the iteration just ends.
        CallbackScene.PollUntil<NoException>(ctx, () => scene.ActionDone, $"the {disposer} callback");
        Assert.Null(AioContext.Current);
        Assert.Same(outerSync, SynchronizationContext.Current);
        AssertDisposed(ctx);

        // What was queued and never ran ends with ObjectDisposedException; nothing waits for good.
        Wait.For(scene.Invoked!.ContinueWith(_ => { }, TaskScheduler.Default), "the InvokeAsync work to end");
        Assert.True(
            scene.Invoked.IsCompletedSuccessfully || scene.Invoked.Exception?.InnerException is ObjectDisposedException,
            $"InvokeAsync ended {scene.Invoked.Status}: {scene.Invoked.Exception}");
        if (scene.PendingWait is { } wait)
        {
            Wait.For(wait.ContinueWith(_ => { }, TaskScheduler.Default), "the pending WaitAsync to end");
            Assert.IsType<ObjectDisposedException>(wait.Exception?.InnerException);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Dispose_from_a_nested_Poll_unwinds_every_level(FdMonitorKind monitor)
    {
        var ctx = MonitorKinds.Create(monitor);
        int levels = 0;
        bool outerReturned = false;
        ctx.ScheduleOneShot(() =>
        {
            levels++;
            ctx.ScheduleOneShot(() =>
            {
                levels++;
                ctx.Dispose();
            });
            Assert.True(ctx.Poll(true));
            Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));
        });
        outerReturned = ctx.Poll(false);
        Assert.True(outerReturned);
        Assert.Equal(2, levels);
        Assert.Null(AioContext.Current);
        AssertDisposed(ctx);
    }

    [IoUringFact]
    public void Dispose_from_inside_an_SqePreparer_is_refused_and_the_request_goes_ahead()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        ctx.Poll(false);
        int refused = 0;
        SqePreparer<AioContext> disposing = (ref Sqe sqe, AioContext c) =>
        {
            try
            {
                c.Dispose();
            }
            catch (InvalidOperationException)
            {
                refused++;
            }

            sqe.PrepNop();
        };
        var handler = new RecordingHandler();

        // On the home thread the preparer runs inside AddSqe; from another thread, inside the loop's next iteration.
        ctx.AddSqe(disposing, ctx, handler);
        Assert.Equal(1, refused);
        var foreign = new Thread(() => ctx.AddSqe(disposing, ctx, handler));
        foreign.Start();
        Wait.Join(foreign, "a foreign AddSqe");
        LoopDriver.PollUntil(ctx, () => handler.Count == 2, "both requests");
        Assert.Equal(2, refused);
        Assert.All(handler.Completions, c => Assert.Equal(0, c.Result));

        // Still a working context.
        ctx.AddSqe(s_nop, 0, handler);
        LoopDriver.PollUntil(ctx, () => handler.Count == 3, "a plain request");
    }

    private static void AssertDisposed(AioContext ctx)
    {
        Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));
        Assert.Throws<ObjectDisposedException>(() => ctx.Poll(true));
        Assert.Throws<ObjectDisposedException>(ctx.Notify);
        Assert.Throws<ObjectDisposedException>(() => ctx.ScheduleOneShot(() => { }));
        Assert.Throws<ObjectDisposedException>(() => ctx.CreateTimer(AioClock.Monotonic, () => { }));
        Assert.Throws<ObjectDisposedException>(() => { _ = ctx.InvokeAsync(() => Task.CompletedTask); });
        if (ctx.HasIoUring)
        {
            Assert.Throws<ObjectDisposedException>(() => ctx.AddSqe(s_nop, 0, new RecordingHandler()));
        }

        ctx.Dispose();
    }

    /// <summary>Never thrown: PollUntil counts none of the exceptions, so any exception fails the test.</summary>
    private sealed class NoException : Exception
    {
    }
}
