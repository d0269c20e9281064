using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class CancellableOneShotTests
{
    [Fact]
    public void ScheduleOneShot_with_state_runs_the_callback_with_it_on_the_loop()
    {
        using var ctx = AioContext.Create();
        var seen = new List<(int Value, AioContext? Current)>();
        ctx.ScheduleOneShot(static s => s.Seen.Add((s.Value, AioContext.Current)), (Seen: seen, Value: 5));
        Assert.True(ctx.Poll(false));
        Assert.Equal([(5, ctx)], seen);
    }

    [Fact]
    public void A_one_shot_cancelled_before_it_ran_never_runs_and_is_no_progress()
    {
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        int ran = 0;
        ctx.ScheduleOneShot(() => ran++, cts.Token);
        ctx.ScheduleOneShot(static box => box.Value++, new StrongBox(), cts.Token);
        cts.Cancel();
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, ran);
        Assert.Equal(0, ctx.Statistics.BottomHalvesRun);
    }

    [Fact]
    public void A_one_shot_with_a_token_cancelled_already_is_not_queued()
    {
        using var ctx = AioContext.Create();
        int ran = 0;
        ctx.ScheduleOneShot(() => ran++, new CancellationToken(canceled: true));
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, ran);
    }

    [Fact]
    public void Cancelling_a_one_shot_after_it_started_changes_nothing()
    {
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        var steps = new List<string>();
        ctx.ScheduleOneShot(
            s =>
            {
                s.Steps.Add("start");
                s.Cts.Cancel();
                s.Steps.Add("end");
            },
            (Steps: steps, Cts: cts),
            cts.Token);
        Assert.True(ctx.Poll(false));
        Assert.Equal(["start", "end"], steps);
    }

    [Fact]
    public void A_cancellable_one_shot_on_a_disposed_context_throws_ObjectDisposedException()
    {
        var ctx = AioContext.Create();
        ctx.Dispose();
        using var cts = new CancellationTokenSource();
        Assert.Throws<ObjectDisposedException>(() => ctx.ScheduleOneShot(() => { }, cts.Token));
        Assert.Throws<ObjectDisposedException>(() => ctx.ScheduleOneShot(static _ => { }, 1, cts.Token));
        Assert.Throws<ObjectDisposedException>(() => { _ = ctx.InvokeAsync(static _ => Task.CompletedTask, 1, cts.Token); });
    }

    [Fact]
    public void InvokeAsync_with_state_runs_the_work_on_the_loop_and_returns_its_result()
    {
        using var ctx = AioContext.Create();
        var task = ctx.InvokeAsync(
            static async s =>
            {
                Assert.Same(s, AioContext.Current);
                await Task.Yield();
                Assert.Same(s, AioContext.Current);
                return s.Name;
            },
            ctx);
        Assert.Equal(ctx.Name, ctx.RunUntil(task));

        var box = new StrongBox();
        ctx.RunUntil(ctx.InvokeAsync(static b => { b.Value = 9; return Task.CompletedTask; }, box));
        Assert.Equal(9, box.Value);
    }

    [Fact]
    public void InvokeAsync_cancelled_before_the_work_started_is_cancelled_and_the_work_never_runs()
    {
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        var box = new StrongBox();
        var withState = ctx.InvokeAsync(static b => { b.Value++; return Task.FromResult(1); }, box, cts.Token);
        var plain = ctx.InvokeAsync(() => { box.Value++; return Task.CompletedTask; }, cts.Token);
        var plainOfT = ctx.InvokeAsync(() => { box.Value++; return Task.FromResult(2); }, cts.Token);
        cts.Cancel();
        foreach (var task in new Task[] { withState, plain, plainOfT })
        {
            Wait.Until(() => task.IsCompleted, () => Thread.Sleep(1), "the cancelled invocation to complete");
            Assert.True(task.IsCanceled);
            Assert.Equal(cts.Token, Assert.ThrowsAny<OperationCanceledException>(() => task.GetAwaiter().GetResult()).CancellationToken);
        }

        Assert.False(ctx.Poll(false));
        Assert.Equal(0, box.Value);
    }

    [Fact]
    public void InvokeAsync_with_a_token_cancelled_already_queues_nothing()
    {
        using var ctx = AioContext.Create();
        var box = new StrongBox();
        var task = ctx.InvokeAsync(static b => { b.Value++; return Task.CompletedTask; }, box, new CancellationToken(canceled: true));
        Assert.True(task.IsCanceled);
        Assert.False(ctx.Poll(false));
        Assert.Equal(0, box.Value);
    }

    [Fact]
    public void Cancelling_after_the_work_started_leaves_the_work_and_its_task_alone()
    {
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        var task = ctx.InvokeAsync(
            static async c =>
            {
                c.Cancel();
                await Task.Yield();
                return 11;
            },
            cts,
            cts.Token);
        Assert.Equal(11, ctx.RunUntil(task));
        Assert.True(task.IsCompletedSuccessfully);
    }

    [Fact]
    public void Disposing_the_context_fails_a_queued_cancellable_invocation_and_a_later_cancel_changes_nothing()
    {
        var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        var box = new StrongBox();
        var task = ctx.InvokeAsync(static b => { b.Value++; return Task.CompletedTask; }, box, cts.Token);
        ctx.Dispose();
        cts.Cancel();
        Wait.Until(() => task.IsCompleted, () => Thread.Sleep(1), "the abandoned invocation to fail");
        Assert.IsType<ObjectDisposedException>(task.Exception!.InnerException);
        Assert.Equal(0, box.Value);
    }

    [Fact]
    public void Each_invocation_racing_its_cancellation_either_runs_or_is_cancelled_never_both()
    {
        const int Count = 2000;
        using var io = IoThread.Start("cancel-race");
        var ran = new int[Count];
        var tasks = new Task<int>[Count];
        var sources = new CancellationTokenSource[Count];
        for (int i = 0; i < Count; i++)
        {
            sources[i] = new CancellationTokenSource();
            tasks[i] = io.Context.InvokeAsync(static s => { Interlocked.Increment(ref s.Ran[s.Index]); return Task.FromResult(s.Index); }, (Ran: ran, Index: i), sources[i].Token);
            if (i % 2 == 0)
            {
                sources[i].Cancel();
            }
        }

        Wait.For(Task.WhenAll(tasks).ContinueWith(_ => { }, TaskScheduler.Default), "every invocation to end");
        int completed = 0, cancelled = 0;
        for (int i = 0; i < Count; i++)
        {
            if (tasks[i].IsCanceled)
            {
                cancelled++;
                Assert.Equal(0, ran[i]);
                Assert.True(sources[i].IsCancellationRequested, $"invocation {i} was cancelled without its token");
            }
            else
            {
                completed++;
                Assert.Equal(i, tasks[i].Result);
                Assert.Equal(1, ran[i]);
            }

            sources[i].Dispose();
        }

        Assert.Equal(Count, completed + cancelled);
        Assert.True(cancelled <= Count / 2, $"{cancelled} cancelled, but only {Count / 2} tokens were");
        Assert.Equal(Count - cancelled, ran.Sum());
    }

    private sealed class StrongBox
    {
        public int Value;
    }
}
