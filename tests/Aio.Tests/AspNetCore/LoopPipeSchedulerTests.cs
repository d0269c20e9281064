using Aio.AspNetCore;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>The loop's pipe scheduler: one bottom half drains what other threads post.</summary>
public sealed class LoopPipeSchedulerTests
{
    [IoUringFact]
    public async Task A_posted_continuation_that_throws_does_not_strand_the_ones_queued_behind_it()
    {
        using var io = IoThread.Start("pipe-scheduler");
        var reported = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        io.CallbackException += (_, ex) => reported.TrySetResult(ex);
        using var scheduler = new LoopPipeScheduler(io.Context);

        // Hold the loop so that both posts are queued before the drain runs: the second must not depend on a third.
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        io.Context.ScheduleOneShot(() =>
        {
            entered.Set();
            release.Wait(Wait.Default);
        });
        Assert.True(entered.Wait(Wait.Default), "the loop did not run the blocking callback");

        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        scheduler.Schedule(static _ => throw new InvalidOperationException("first"), null);
        scheduler.Schedule(static s => ((TaskCompletionSource)s!).TrySetResult(), second);
        release.Set();

        Assert.Equal("first", (await reported.Task.WaitAsync(Wait.Default)).Message);
        await second.Task.WaitAsync(Wait.Default);
    }

    [Fact]
    public void What_was_posted_when_the_loop_is_disposed_runs_on_the_pool()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll, Name = "pipe-scheduler-abandoned" });
        using var scheduler = new LoopPipeScheduler(ctx);
        using var ran = new ManualResetEventSlim();

        // Posted from another thread: queued, with the drain scheduled; then the loop goes before it ever ran.
        var poster = new Thread(() => scheduler.Deferred.Schedule(static s => ((ManualResetEventSlim)s!).Set(), ran));
        poster.Start();
        Wait.Join(poster, "the post");
        ctx.Dispose();

        // Not left in the queue until the transport's own Dispose (at the host's container disposal).
        Assert.True(ran.Wait(Wait.Default), "the continuation posted before the loop was disposed never ran");
    }

    [IoUringFact]
    public async Task On_the_loop_the_default_face_runs_inline_and_the_deferred_face_after_the_current_callback()
    {
        using var io = IoThread.Start("pipe-scheduler");
        using var scheduler = new LoopPipeScheduler(io.Context);
        var order = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        io.Context.ScheduleOneShot(() =>
        {
            scheduler.Deferred.Schedule(
                static s =>
                {
                    var (list, tcs) = ((List<string>, TaskCompletionSource))s!;
                    list.Add("deferred");
                    tcs.TrySetResult();
                },
                (order, done));
            scheduler.Schedule(static s => ((List<string>)s!).Add("inline"), order);
            order.Add("callback returns");
        });

        await done.Task.WaitAsync(Wait.Default);
        Assert.Equal(["inline", "callback returns", "deferred"], order);
    }
}
