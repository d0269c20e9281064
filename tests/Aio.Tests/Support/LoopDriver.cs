using Xunit;

namespace Aio.Tests.Support;

/// <summary>Bounded loops over <see cref="AioContext.Poll(bool)"/>: a watchdog notifies the context after the deadline so a blocked Poll returns, and the test fails with a message.</summary>
public static class LoopDriver
{
    /// <summary>Polls (blocking) until <paramref name="condition"/> holds; fails after <paramref name="timeout"/>.</summary>
    public static void PollUntil(AioContext ctx, Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Wait.Default;
        using var watchdog = new Watchdog(ctx, limit);
        while (!condition())
        {
            Assert.False(watchdog.Fired, $"Timed out after {limit.TotalSeconds:0.#} s polling for {what}.");
            ctx.Poll(true);
        }

        // Reaching the condition only because the watchdog woke the loop means a wake-up was missing.
        Assert.False(watchdog.Fired, $"The loop slept through {what} until the {limit.TotalSeconds:0.#} s watchdog woke it.");
    }

    /// <summary>Runs one blocking Poll with a watchdog that fails the test if it has not returned within <paramref name="timeout"/>.</summary>
    public static bool PollBlockingBounded(AioContext ctx, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Wait.Default;
        using var watchdog = new Watchdog(ctx, limit);
        bool progress = ctx.Poll(true);
        Assert.False(watchdog.Fired, $"Poll(true) blocked for more than {limit.TotalSeconds:0.#} s waiting for {what}.");
        return progress;
    }

    /// <summary>Notify from a watchdog: the context may be gone by the time it fires, which must not crash the test host.</summary>
    public static void SafeNotify(AioContext ctx)
    {
        try
        {
            ctx.Notify();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>After <c>limit</c>, marks itself fired and keeps notifying the context every 100 ms.</summary>
    private sealed class Watchdog : IDisposable
    {
        private readonly Timer _timer;
        private volatile bool _fired;

        public Watchdog(AioContext ctx, TimeSpan limit)
        {
            _timer = new Timer(_ =>
            {
                _fired = true;
                SafeNotify(ctx);
            }, null, limit, TimeSpan.FromMilliseconds(100));
        }

        public bool Fired => _fired;

        public void Dispose() => _timer.Dispose();
    }
}
