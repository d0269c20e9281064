using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>Stopping an IoThread: whatever state its context is in, and without dropping work queued to it.</summary>
public class IoThreadLifecycleTests
{
    [Fact]
    public void An_IoThread_whose_context_a_callback_disposed_stops_by_itself_and_disposes_cleanly()
    {
        var t = IoThread.Start("disposed-inside");
        int reported = 0;
        t.CallbackException += (_, _) => Interlocked.Increment(ref reported);
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        t.Context.ScheduleOneShot(() =>
        {
            t.Context.Dispose();
            disposed.SetResult();
        });
        Wait.For(disposed.Task, "the callback's Dispose");
        Assert.Throws<ObjectDisposedException>(() => t.Context.ScheduleOneShot(() => { }));
        var stop = Task.Run(t.Dispose);
        Wait.For(stop, "IoThread.Dispose");
        Assert.Null(stop.Exception);
        Assert.Equal(0, reported);
        t.Dispose();
    }

    [Fact]
    public void An_IoThread_whose_context_was_disposed_between_iterations_stops_and_disposes_cleanly()
    {
        var t = IoThread.Start("disposed-outside");
        int reported = 0;
        t.CallbackException += (_, _) => Interlocked.Increment(ref reported);

        // From another thread the Dispose is refused while the loop is inside Poll and accepted between two iterations:
        // the hook holds the loop thread there (outside any Poll) until the Dispose is done, then lets it look again.
        using var between = new ManualResetEventSlim();
        using var disposed = new ManualResetEventSlim();
        t.BetweenIterationsForTests = () =>
        {
            between.Set();
            disposed.Wait(Wait.Default);
        };
        t.Context.Notify();
        Assert.True(between.Wait(Wait.Default), "the loop thread did not come between two iterations");
        t.Context.Dispose();
        disposed.Set();
        var stop = Task.Run(t.Dispose);
        Wait.For(stop, "IoThread.Dispose");
        Assert.Null(stop.Exception);
        Assert.Equal(0, reported);
    }

    [Fact]
    public void A_second_Dispose_returns_only_once_the_loop_has_stopped_and_its_context_is_disposed()
    {
        // The first Dispose comes from the loop's own callback (it only asks the loop to stop) and the callback then
        // holds the loop: a Dispose from another thread meanwhile must wait for the thread, not return at once.
        var t = IoThread.Start("dispose-twice");
        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        t.Context.ScheduleOneShot(() =>
        {
            t.Dispose();
            started.Set();
            gate.Wait(Wait.Default);
        });
        Assert.True(started.Wait(Wait.Default), "the callback did not run");
        // Threads of their own, not the pool's: a pool item may sit queued for longer than the 100 ms looked at.
        var second = StartThread(t.Dispose);
        Assert.False(second.Join(TimeSpan.FromMilliseconds(100)), "the second Dispose returned while the loop was still in its callback");
        gate.Set();
        Wait.Join(second, "the second Dispose");
        Assert.True(t.Context.IsDisposed);
    }

    [Fact]
    public void A_group_stops_every_other_loop_while_one_is_stuck_in_a_callback()
    {
        // The host's stop gives up on a stuck loop after its timeout; the loops after it must not keep running (their
        // rings, threads and sockets) because the group was still joining the first.
        var group = IoThreadGroup.Start("group-stuck", 3);
        using var stuck = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Task? disposing = null;
        try
        {
            group.Threads[0].Context.ScheduleOneShot(() =>
            {
                stuck.Set();
                release.Wait(Wait.Default);
            });
            Assert.True(stuck.Wait(Wait.Default), "the callback did not run");
            disposing = group.DisposeAsync().AsTask();
            Wait.Until(() => group.Threads[1].Context.IsDisposed && group.Threads[2].Context.IsDisposed, () => Thread.Sleep(1), "the loops after the stuck one to stop");
            Assert.False(disposing.IsCompleted, "the group's dispose returned while a loop was still in its callback");
            Assert.False(group.Threads[0].Context.IsDisposed);
        }
        finally
        {
            release.Set();
            Wait.For(disposing ?? group.DisposeAsync().AsTask(), "the group to finish stopping once the callback returned");
        }

        Assert.True(group.Threads[0].Context.IsDisposed);
    }

    private static Thread StartThread(Action action)
    {
        var thread = new Thread(() => action()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    [Fact]
    public void An_IoThread_does_not_run_its_callbacks_under_its_creators_async_locals()
    {
        var local = new AsyncLocal<string> { Value = "creator" };
        using var t = IoThread.Start("no-flow");
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        t.Context.ScheduleOneShot(() => seen.SetResult(local.Value));
        Wait.For(seen.Task, "the callback");
        Assert.Null(seen.Task.Result);
    }

    [Fact]
    public void Work_queued_just_before_IoThread_Dispose_runs_or_fails_with_ObjectDisposedException()
    {
        for (int round = 0; round < 50; round++)
        {
            var t = IoThread.Start("drained-" + round);
            var ctx = t.Context;
            int ran = 0;
            var invocations = new List<Task>();
            for (int i = 0; i < 10; i++)
            {
                invocations.Add(ctx.InvokeAsync(async () =>
                {
                    // Each await posts its continuation behind whatever is queued by then (the stop included).
                    await Task.Yield();
                    await Task.Yield();
                    Interlocked.Increment(ref ran);
                }));
            }

            // A thread that keeps Sending until the context is gone: each Send returns or throws, never hangs.
            int sent = 0;
            using var sending = new ManualResetEventSlim();
            var sender = new Thread(() =>
            {
                try
                {
                    while (true)
                    {
                        ctx.SynchronizationContext.Send(_ => sent++, null);
                        sending.Set();
                    }
                }
                catch (ObjectDisposedException)
                {
                    sending.Set();
                }
            });
            sender.Start();
            Assert.True(sending.Wait(Wait.Default), "the first Send did not return");
            int posted = 0;
            ctx.SynchronizationContext.Post(_ => Interlocked.Increment(ref posted), null);
            t.Dispose();
            Wait.Join(sender, "the Sending thread (a Send was dropped)");
            foreach (var task in invocations)
            {
                Wait.For(task.ContinueWith(_ => { }, TaskScheduler.Default), "an InvokeAsync queued before Dispose");
                Assert.True(
                    task.IsCompletedSuccessfully || task.Exception?.InnerException is ObjectDisposedException,
                    $"InvokeAsync ended {task.Status}: {task.Exception}");
            }

            // Queued before Dispose, with nothing in the way: the drain runs them all.
            Assert.Equal(10, ran);
            Wait.Until(() => Volatile.Read(ref posted) == 1, () => Thread.Yield(), "the posted callback");
        }
    }

    [Fact]
    public void An_await_that_resumes_after_its_context_was_disposed_still_completes_its_task()
    {
        var gate = new TaskCompletionSource();
        var t = IoThread.Start("late-resume");
        var ctx = t.Context;
        bool resumedOnLoop = true;
        var work = ctx.InvokeAsync(async () =>
        {
            // Captures the loop's SynchronizationContext: the continuation is posted to a context that is gone by then.
            await gate.Task;
            resumedOnLoop = AioContext.Current == ctx;
            ctx.ScheduleOneShot(() => { });
        });
        t.Dispose();
        gate.SetResult();
        Wait.For(work.ContinueWith(_ => { }, TaskScheduler.Default), "the late continuation");
        Assert.False(resumedOnLoop);
        Assert.IsType<ObjectDisposedException>(work.Exception?.InnerException);
    }

    [Fact]
    public void Send_and_InvokeAsync_on_a_stopped_IoThread_throw_ObjectDisposedException()
    {
        var t = IoThread.Start("stopped");
        var ctx = t.Context;
        var sync = ctx.SynchronizationContext;
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sync.Send(_ => { }, null));
        Assert.Throws<ObjectDisposedException>(() => { _ = ctx.InvokeAsync(() => Task.CompletedTask); });

        // Post cannot throw (an await continuation that throws from Post takes the process down): it runs elsewhere.
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sync.Post(_ => ran.SetResult(), null);
        Wait.For(ran.Task, "a Post after the context was disposed");
    }
}
