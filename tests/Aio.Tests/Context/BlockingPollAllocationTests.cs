using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>A loop that sleeps in its monitor until a timer is due, over and over, allocates nothing, on every monitor.</summary>
public class BlockingPollAllocationTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void A_blocking_Poll_woken_by_a_timer_allocates_nothing(FdMonitorKind kind)
    {
        const int Waits = 200;
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = kind });
        int fired = 0;
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired++);

        void Sleep(int count)
        {
            for (int i = 0; i < count; i++)
            {
                // A bounded wait without Wait.Until, whose closures would be counted.
                int before = fired;
                long deadline = Environment.TickCount64 + (long)Wait.Default.TotalMilliseconds;
                timer.ArmAfter(TimeSpan.FromMicroseconds(200));
                while (fired == before)
                {
                    Assert.True(Environment.TickCount64 < deadline, "the timer never fired");
                    ctx.Poll(true);
                }
            }
        }

        Sleep(50);   // tiering and first-use allocations
        long before = GC.GetAllocatedBytesForCurrentThread();
        Sleep(Waits);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{kind}: {allocated} bytes for {Waits} blocking waits");
    }
}
