using System.Collections.Concurrent;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// <see cref="AioContext.Warning"/>: a context's own warnings, to its own subscribers, without an EventListener (the
/// stall watchdog samples for them), with the EventSource's text, once per stall; a throwing or removed handler.
/// </summary>
public sealed class ContextWarningTests
{
    /// <summary>Blocks <paramref name="io"/>'s loop until <paramref name="release"/> is set (bounded: a missing release fails the test, not hangs it).</summary>
    private static void Block(IoThread io, ManualResetEventSlim release)
    {
        using var blocked = new ManualResetEventSlim();
        io.Context.ScheduleOneShot(() =>
        {
            blocked.Set();
            release.Wait(TimeSpan.FromSeconds(20));
        });
        Assert.True(blocked.Wait(TimeSpan.FromSeconds(10)), "the blocking callback to start");
    }

    private static void WaitForTheLoop(IoThread io)
    {
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        io.Context.ScheduleOneShot(ran.SetResult);
        Wait.For(ran.Task, "the loop to run again");
    }

    [Fact]
    public void A_stall_reaches_the_stalled_contexts_subscribers_once_and_nobody_elses()
    {
        using var stalled = Stalls.Start("warned");
        using var other = Stalls.Start("unwarned");
        var mine = new ConcurrentQueue<(AioContext Sender, AioWarning Warning)>();
        var theirs = new ConcurrentQueue<AioWarning>();
        stalled.Context.Warning += (sender, warning) => mine.Enqueue((sender, warning));
        other.Context.Warning += (_, warning) => theirs.Enqueue(warning);

        using (var release = new ManualResetEventSlim())
        {
            Block(stalled, release);
            Wait.Until(() => !mine.IsEmpty, () => Thread.Sleep(5), "the stalled context's Warning");

            // Still stalled for more passes: no second warning for the same stall.
            Stalls.WaitForSamples(3, "more watchdog passes during the stall");
            release.Set();
        }

        WaitForTheLoop(stalled);
        Stalls.WaitForSamples(3, "watchdog passes after the stall");
        var (sender, warning) = Assert.Single(mine);
        Assert.Same(stalled.Context, sender);
        Assert.Equal(6, warning.EventId);
        Assert.Equal("LoopStalled", warning.EventName);
        Assert.StartsWith($"Context {stalled.Context.Name}: the loop has been running callbacks for ", warning.Message, StringComparison.Ordinal);
        Assert.EndsWith(" ms without returning to its wait (stall threshold 100 ms): a callback blocks the loop", warning.Message, StringComparison.Ordinal);
        Assert.Empty(theirs);
    }

    [Fact]
    public void A_throwing_handler_leaves_the_others_and_the_watchdog_going()
    {
        using var io = Stalls.Start("throwing-handler");
        var seen = new ConcurrentQueue<AioWarning>();
        int thrown = 0;
        io.Context.Warning += (_, _) =>
        {
            Interlocked.Increment(ref thrown);
            throw new InvalidOperationException("a handler's own bug");
        };
        io.Context.Warning += (_, warning) => seen.Enqueue(warning);

        for (int stall = 1; stall <= 2; stall++)
        {
            using var release = new ManualResetEventSlim();
            Block(io, release);
            int expected = stall;
            Wait.Until(() => seen.Count >= expected, () => Thread.Sleep(5), $"warning {stall} past the throwing handler");
            release.Set();
            WaitForTheLoop(io);
        }

        Assert.Equal(2, seen.Count);
        Assert.Equal(2, Volatile.Read(ref thrown));
    }

    [Fact]
    public void A_removed_handler_hears_nothing_while_another_still_does()
    {
        using var io = Stalls.Start("removed-handler");
        var removed = new ConcurrentQueue<AioWarning>();
        var kept = new ConcurrentQueue<AioWarning>();
        Action<AioContext, AioWarning> removedHandler = (_, warning) => removed.Enqueue(warning);
        io.Context.Warning += removedHandler;
        io.Context.Warning += (_, warning) => kept.Enqueue(warning);
        io.Context.Warning -= removedHandler;

        using (var release = new ManualResetEventSlim())
        {
            Block(io, release);
            Wait.Until(() => !kept.IsEmpty, () => Thread.Sleep(5), "the kept handler's warning");
            release.Set();
        }

        WaitForTheLoop(io);
        Assert.Single(kept);
        Assert.Empty(removed);
    }
}
