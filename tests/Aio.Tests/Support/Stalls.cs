using Aio.Diagnostics;

namespace Aio.Tests.Support;

/// <summary>Loops watched for stalls, and bounded waits on the stall watchdog's passes.</summary>
public static class Stalls
{
    /// <summary>The threshold the stall tests' loops are watched with.</summary>
    public static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(100);

    /// <summary>An IoThread with a unique name, watched with <see cref="Threshold"/>.</summary>
    public static IoThread Start(string prefix) =>
        IoThread.Start(prefix + "-" + Guid.NewGuid().ToString("N"), new AioContextOptions { LoopStallThreshold = Threshold });

    /// <summary>Waits until the watchdog made <paramref name="passes"/> more sampling passes (each one looked at every loop).</summary>
    public static void WaitForSamples(int passes, string what)
    {
        long target = LoopStallWatchdog.Samples + passes;
        Wait.Until(() => LoopStallWatchdog.Samples >= target, () => Thread.Sleep(5), what);
    }
}
