using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class PeriodicTimerTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Ticks_come_again_and_again_and_resume_on_the_loop(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var work = ctx.InvokeAsync(async () =>
        {
            long start = ctx.Now(AioClock.Monotonic);
            using var timer = ctx.CreatePeriodicTimer(TimeSpan.FromMilliseconds(2));
            for (int i = 0; i < 5; i++)
            {
                Assert.True(await timer.WaitForNextTickAsync());
                Assert.Same(ctx, AioContext.Current);
            }

            return ctx.Now(AioClock.Monotonic) - start;
        });
        long elapsedNs = ctx.RunUntil(work);
        Assert.True(elapsedNs >= 5 * 2_000_000, $"5 ticks of 2 ms took only {elapsedNs} ns");
        Assert.True(ctx.Statistics.TimersFired >= 5);
    }

    [Fact]
    public void Missed_ticks_coalesce_into_one_and_the_schedule_keeps_its_phase()
    {
        using var ctx = AioContext.Create();
        var period = TimeSpan.FromMilliseconds(1);
        using var timer = ctx.CreatePeriodicTimer(period);
        long created = ctx.Now(AioClock.Monotonic);

        // Five periods pass with nobody running the loop.
        Wait.Until(() => ctx.Now(AioClock.Monotonic) > created + 5_500_000, () => Thread.Yield(), "five periods to pass");
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, ctx.Statistics.TimersFired);

        var first = timer.WaitForNextTickAsync();
        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(first.Result);

        // The missed ticks are gone: the next wait waits for the next tick, on the original schedule.
        var second = timer.WaitForNextTickAsync();
        Assert.False(second.IsCompleted);
        Wait.Until(() => second.IsCompleted, () => ctx.Poll(true), "the next tick");
        Assert.True(second.Result);
        Assert.Equal(2, ctx.Statistics.TimersFired);
    }

    [Fact]
    public void Dispose_ends_a_pending_wait_with_false_and_every_later_one()
    {
        using var ctx = AioContext.Create();
        var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        var pending = timer.WaitForNextTickAsync().AsTask();
        Assert.False(pending.IsCompleted);
        timer.Dispose();
        Wait.For(pending, "the pending wait to end");
        Assert.False(pending.Result);
        var later = timer.WaitForNextTickAsync();
        Assert.True(later.IsCompletedSuccessfully);
        Assert.False(later.Result);
        timer.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tick_nobody_waited_for_does_not_outlive_the_timers_end(bool disposeTheContext)
    {
        var ctx = AioContext.Create();
        try
        {
            var timer = ctx.CreatePeriodicTimer(TimeSpan.FromMilliseconds(1));
            Wait.Until(() => ctx.Statistics.TimersFired >= 1, () => ctx.Poll(true), "a tick with no wait pending");
            if (disposeTheContext)
            {
                ctx.Dispose();
            }
            else
            {
                timer.Dispose();
            }

            var after = timer.WaitForNextTickAsync();
            Assert.True(after.IsCompletedSuccessfully);
            Assert.False(after.Result, "a wait after the end returned the coalesced tick from before it");
        }
        finally
        {
            ctx.Dispose();
        }
    }

    [Fact]
    public void Disposing_the_context_ends_the_timer()
    {
        var ctx = AioContext.Create();
        using var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        var pending = timer.WaitForNextTickAsync().AsTask();
        ctx.Dispose();
        Wait.For(pending, "the wait to end with the context");
        Assert.False(pending.Result);
        Assert.False(timer.WaitForNextTickAsync().Result);
        Assert.Throws<ObjectDisposedException>(() => ctx.CreatePeriodicTimer(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_wait_on_the_loop_ends_with_false_when_its_loop_disposes_the_context()
    {
        var ctx = AioContext.Create();
        var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        var work = ctx.InvokeAsync(async () => await timer.WaitForNextTickAsync());
        ctx.Poll(false);
        Assert.False(work.IsCompleted);
        ctx.ScheduleOneShot(ctx.Dispose);
        ctx.Poll(false);
        Wait.For(work, "the loop's wait to end");
        Assert.False(work.Result);
    }

    [Fact]
    public void Cancelling_a_wait_throws_and_the_timer_keeps_ticking_for_the_next_one()
    {
        using var ctx = AioContext.Create();
        using var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        using var cts = new CancellationTokenSource();
        var wait = timer.WaitForNextTickAsync(cts.Token).AsTask();
        cts.Cancel();
        Wait.Until(() => wait.IsCompleted, () => Thread.Sleep(1), "the cancelled wait to end");
        Assert.True(wait.IsCanceled);
        Assert.True(timer.WaitForNextTickAsync(new CancellationToken(canceled: true)).IsCanceled);

        timer.Period = TimeSpan.FromMilliseconds(1);
        using var other = new CancellationTokenSource();
        var next = timer.WaitForNextTickAsync(other.Token);
        Assert.False(next.IsCompleted);
        Wait.Until(() => next.IsCompleted, () => ctx.Poll(true), "a tick after the cancellation");
        Assert.True(next.Result);
    }

    [Fact]
    public void A_wait_on_the_loop_that_another_thread_cancels_or_ends_resumes_on_the_loop()
    {
        using var io = IoThread.Start("periodic-foreign");
        var ctx = io.Context;
        using var cts = new CancellationTokenSource();
        var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var work = ctx.InvokeAsync(async () =>
        {
            var cancelled = timer.WaitForNextTickAsync(cts.Token);
            waiting.SetResult();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
            bool onLoopAfterCancel = AioContext.Current == ctx;
            var ended = timer.WaitForNextTickAsync();
            ctx.ScheduleOneShot(static t => ThreadPool.QueueUserWorkItem(static t => t.Dispose(), t, preferLocal: false), timer);
            bool result = await ended;
            return (onLoopAfterCancel, result, onLoopAfterEnd: AioContext.Current == ctx);
        });
        Wait.For(waiting.Task, "the loop to start waiting");
        cts.Cancel();
        Wait.For(work, "the loop's waits to end");
        Assert.Equal((true, false, true), work.Result);
    }

    [Fact]
    public void A_wait_on_the_loop_that_its_home_thread_cancels_between_iterations_resumes_on_the_loop()
    {
        // The thread that drives the loop by hand cancels the wait between two RunUntil calls: it is the home thread,
        // but no loop runs there then, so the continuation must wait for the next iteration rather than run inside Cancel.
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        using var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        bool cancelled = false;
        AioContext? resumedIn = null;
        Task? waiter = null;
        ctx.RunUntil(ctx.InvokeAsync(() =>
        {
            waiter = WaitAsync();
            return Task.CompletedTask;
        }));

        cts.Cancel();
        Assert.False(cancelled, "the wait's continuation ran inside Cancel, outside the loop");
        ctx.RunUntil(waiter!);
        Assert.True(cancelled);
        Assert.Same(ctx, resumedIn);

        async Task WaitAsync()
        {
            try
            {
                await timer.WaitForNextTickAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                cancelled = true;
            }

            resumedIn = AioContext.Current;
        }
    }

    [Fact]
    public void One_wait_at_a_time()
    {
        using var ctx = AioContext.Create();
        using var timer = ctx.CreatePeriodicTimer(TimeSpan.FromHours(1));
        var first = timer.WaitForNextTickAsync();
        Assert.Throws<InvalidOperationException>(() => timer.WaitForNextTickAsync());
        timer.Dispose();
        Assert.False(first.AsTask().Result);
    }

    [Fact]
    public void Period_is_validated_and_infinite_stops_the_ticks()
    {
        using var ctx = AioContext.Create();
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.CreatePeriodicTimer(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.CreatePeriodicTimer(TimeSpan.FromMilliseconds(-2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.CreatePeriodicTimer(TimeSpan.FromDays(60)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.CreatePeriodicTimer(TimeSpan.FromSeconds(1), (AioClock)7));

        using var timer = ctx.CreatePeriodicTimer(Timeout.InfiniteTimeSpan, AioClock.WallClock);
        Assert.Equal(Timeout.InfiniteTimeSpan, timer.Period);
        Assert.Equal(AioClock.WallClock, timer.Clock);
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.Period = TimeSpan.Zero);

        // Nothing armed: a blocking Poll would sleep for good, so check the loop's idea of its timeout instead.
        var wait = timer.WaitForNextTickAsync();
        Assert.False(ctx.Poll(false));
        Assert.False(wait.IsCompleted);

        timer.Period = TimeSpan.FromMilliseconds(1);
        Assert.Equal(TimeSpan.FromMilliseconds(1), timer.Period);
        Wait.Until(() => wait.IsCompleted, () => ctx.Poll(true), "the first tick after the period was set");
        Assert.True(wait.Result);
    }

    [Fact]
    public void A_tick_awaited_on_the_loop_allocates_nothing()
    {
        const int Ticks = 100;
        using var ctx = AioContext.Create();
        var work = ctx.InvokeAsync(async () =>
        {
            using var timer = ctx.CreatePeriodicTimer(TimeSpan.FromMilliseconds(1));

            // Past the runtime's tiering thresholds (30 calls), which allocate a little, once.
            for (int i = 0; i < 40; i++)
            {
                await timer.WaitForNextTickAsync();
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Ticks; i++)
            {
                await timer.WaitForNextTickAsync();
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        });

        // The loop and the awaiting code share this thread. One allocation per tick would be at least 24 bytes each.
        long allocated = ctx.RunUntil(work);
        Assert.True(allocated < Ticks * 24, $"{Ticks} ticks allocated {allocated} bytes");
    }
}
