namespace Aio.Tests.Support;

/// <summary>QEMU test scenarios shared by the Poll tests and the outer-loop tests.</summary>
public static class Scenarios
{
    /// <summary>
    /// Four bottom halves that reschedule themselves until they reach their limits (1, 3, 2, 4), then delete
    /// themselves; all four are scheduled. Returns the limits and the live run counts.
    /// </summary>
    public static (int[] Limits, int[] Counts) ScheduleSelfDeletingBottomHalves(AioContext ctx)
    {
        int[] limits = [1, 3, 2, 4];
        int[] counts = new int[4];
        var bhs = new BottomHalf[4];
        for (int i = 0; i < 4; i++)
        {
            int me = i;
            bhs[i] = ctx.CreateBottomHalf(() =>
            {
                if (++counts[me] == limits[me])
                {
                    bhs[me].Dispose();
                }
                else
                {
                    bhs[me].Schedule();
                }
            });
        }

        foreach (var bh in bhs)
        {
            bh.Schedule();
        }

        return (limits, counts);
    }
}
