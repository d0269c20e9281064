namespace Aio.TestHelper;

/// <summary>Checks that a context still does its basic job: an fd handler runs when its fd becomes ready.</summary>
internal static class Handlers
{
    /// <summary>Registers an EventNotifier, sets it, and polls (bounded) until its handler ran; returns the run count.</summary>
    public static int RunNotifierHandler(AioContext ctx, PollFaults faults)
    {
        using var e = new EventNotifier();
        int runs = 0;
        ctx.SetEventNotifier(e, n =>
        {
            n.TestAndClear();
            runs++;
        });
        e.Set();
        Loop.RunUntil(ctx, () => runs > 0, TimeSpan.FromSeconds(3), faults);
        ctx.SetEventNotifier(e, null);
        return runs;
    }
}
