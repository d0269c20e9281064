using Aio;

namespace AioSamples;

/// <summary>
/// Work handed to a loop from other threads: an <see cref="AioTimer"/>, a <see cref="BottomHalf"/>,
/// <see cref="AioContext.ScheduleOneShot(Action)"/>, <see cref="AioContext.InvokeAsync(Func{Task})"/>, an
/// <see cref="AioPeriodicTimer"/>, and the overloads with a state and a <see cref="CancellationToken"/>.
/// </summary>
internal static class TimersSample
{
    public static async Task RunAsync()
    {
        using var io = IoThread.Start("timers");
        var ctx = io.Context;

        // A timer fires once, on the loop, no earlier than its expiry; arming it works from any thread.
        var fired = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired.TrySetResult(ctx.Now(AioClock.Monotonic)));
        long armedAt = ctx.Now(AioClock.Monotonic);
        timer.ArmAfter(TimeSpan.FromMilliseconds(20));
        long elapsedMs = (await fired.Task - armedAt) / 1_000_000;
        Console.WriteLine($"timers: timer fired after {(elapsedMs >= 20 ? "at least" : "LESS than")} 20 ms");

        // A bottom half is made once and scheduled as often as needed, from any thread; it runs in the next iteration.
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var bh = ctx.CreateBottomHalf(() => ran.TrySetResult(AioContext.Current == ctx), name: "sample");
        await Task.Run(bh.Schedule);
        Console.WriteLine($"timers: bottom half ran on the loop: {await ran.Task}");

        // A one-shot callback: scheduled, run once, forgotten.
        var once = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        ctx.ScheduleOneShot(() => once.TrySetResult(Thread.CurrentThread.Name));
        Console.WriteLine($"timers: one-shot ran on thread '{await once.Task}'");

        // InvokeAsync: async code on the loop; every await inside it comes back to the loop.
        bool stayed = await ctx.InvokeAsync(async () =>
        {
            await Task.Yield();
            return AioContext.Current == ctx;
        });
        Console.WriteLine($"timers: InvokeAsync resumed on the loop after an await: {stayed}");

        // A periodic timer, awaited like .NET's PeriodicTimer; ticks nobody waited for collapse into one.
        using var periodic = ctx.CreatePeriodicTimer(TimeSpan.FromMilliseconds(5));
        int ticks = 0;
        while (ticks < 3 && await periodic.WaitForNextTickAsync())
        {
            ticks++;
        }

        Console.WriteLine($"timers: periodic timer ticked {ticks} times");

        // State instead of a closure, and a token: work cancelled before it starts never runs.
        using var cancel = new CancellationTokenSource();
        var answer = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        ctx.ScheduleOneShot(static tcs => tcs.TrySetResult(42), answer, cancel.Token);
        int doubled = await ctx.InvokeAsync(static async tcs => 2 * await tcs.Task, answer, cancel.Token);
        cancel.Cancel();
        var skipped = ctx.InvokeAsync(static _ => Task.FromResult(0), 0, cancel.Token);
        Console.WriteLine($"timers: state overloads gave {doubled}; cancelled before it ran: {skipped.IsCanceled}");
    }
}
