using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

public class IoThreadTests
{
    [Fact]
    public void Start_and_stop_one_hundred_times()
    {
        for (int i = 0; i < 100; i++)
        {
            using var t = IoThread.Start("lifecycle-" + i);
            Assert.Equal("lifecycle-" + i, t.Name);
            Assert.Equal("lifecycle-" + i, t.Context.Name);
            var ran = new TaskCompletionSource<AioContext?>(TaskCreationOptions.RunContinuationsAsynchronously);
            t.Context.ScheduleOneShot(() => ran.SetResult(AioContext.Current));
            Wait.For(ran.Task, "a one-shot on the IoThread");
            Assert.Same(t.Context, ran.Task.Result);
        }
    }

    [Fact]
    public void Context_is_created_on_the_thread_with_default_polling()
    {
        using var t = IoThread.Start("owner");
        if (MonitorKinds.IoUringAvailable)
        {
            Assert.Equal(FdMonitorKind.IoUring, t.Context.Monitor);
        }

        var onThread = t.Context.InvokeAsync(() => Task.FromResult(Thread.CurrentThread.Name));
        Wait.For(onThread, "InvokeAsync on the IoThread");
        Assert.Equal("owner", onThread.Result);
        Assert.Throws<InvalidOperationException>(() => t.Context.Poll(false));
    }

    [Fact]
    public void Five_io_threads_pass_work_around_with_exact_counts()
    {
        const int Threads = 5;
        const int Tokens = 20;
        const int HopsPerToken = 500;
        var threads = Enumerable.Range(0, Threads).Select(i => IoThread.Start("ring-" + i)).ToArray();
        try
        {
            var perThread = new int[Threads];
            int wrongThread = 0;
            var finished = new CountdownEvent(Tokens);

            void Hop(int token, int hop, int at)
            {
                if (AioContext.Current != threads[at].Context)
                {
                    Interlocked.Increment(ref wrongThread);
                }

                perThread[at]++;   // only ever touched on its own loop thread
                if (hop == HopsPerToken)
                {
                    finished.Signal();
                    return;
                }

                int next = (at + 1) % Threads;
                if (hop % 2 == 0)
                {
                    threads[next].Context.ScheduleOneShot(() => Hop(token, hop + 1, next));
                }
                else
                {
                    // An async hop: await work on the next loop, then continue there.
                    _ = threads[next].Context.InvokeAsync(async () =>
                    {
                        await Task.Yield();
                        Hop(token, hop + 1, next);
                    });
                }
            }

            for (int token = 0; token < Tokens; token++)
            {
                int t = token;
                threads[t % Threads].Context.ScheduleOneShot(() => Hop(t, 1, t % Threads));
            }

            Assert.True(finished.Wait(TimeSpan.FromSeconds(60)), $"only {Tokens - finished.CurrentCount} of {Tokens} tokens finished");
            int total = 0;
            for (int i = 0; i < Threads; i++)
            {
                int me = i;
                var read = threads[i].Context.InvokeAsync(() => Task.FromResult(perThread[me]));
                Wait.For(read, "a count read");
                total += read.Result;
            }

            Assert.Equal(0, wrongThread);
            Assert.Equal(Tokens * HopsPerToken, total);
        }
        finally
        {
            foreach (var t in threads)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Exception_in_a_callback_is_reported_and_the_thread_keeps_serving()
    {
        using var t = IoThread.Start("faulty");
        var reported = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        t.CallbackException += (_, ex) => reported.TrySetResult(ex);
        t.Context.ScheduleOneShot(() => throw new InvalidDataException("bad callback"));
        Wait.For(reported.Task, "the report");
        Assert.IsType<InvalidDataException>(reported.Task.Result);
        var alive = t.Context.InvokeAsync(() => Task.FromResult(42));
        Wait.For(alive, "work after the exception");
        Assert.Equal(42, alive.Result);
    }

    [Fact]
    public void A_CallbackException_subscriber_that_throws_neither_ends_the_thread_nor_silences_the_others()
    {
        // Without the guard the subscriber's exception escapes the IoThread's loop: an unhandled exception, the end of
        // the process.
        using var t = IoThread.Start("faulty-subscriber");
        var reported = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        t.CallbackException += (_, _) => throw new InvalidOperationException("the logger failed");
        t.CallbackException += (_, ex) => reported.TrySetResult(ex);
        t.Context.ScheduleOneShot(() => throw new InvalidDataException("bad callback"));
        Wait.For(reported.Task, "the report to the second subscriber");
        Assert.IsType<InvalidDataException>(reported.Task.Result);
        var alive = t.Context.InvokeAsync(() => Task.FromResult(42));
        Wait.For(alive, "work after the exception");
        Assert.Equal(42, alive.Result);
    }

    [Fact]
    public void Dispose_from_the_thread_itself_stops_it()
    {
        var t = IoThread.Start("self-stop");
        var context = t.Context;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.ScheduleOneShot(() =>
        {
            t.Dispose();
            done.SetResult();
        });
        Wait.For(done.Task, "the self-dispose");
        Wait.Until(() => IsDisposed(context), () => Thread.Sleep(1), "the context to be disposed when the loop ends");
        t.Dispose();
    }

    private static bool IsDisposed(AioContext ctx)
    {
        try
        {
            ctx.Notify();
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }
}
