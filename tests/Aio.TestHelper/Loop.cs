namespace Aio.TestHelper;

/// <summary>Drives a context on the calling thread until a condition holds or a deadline passes.</summary>
internal static class Loop
{
    private const int MaxConsecutiveThrows = 200;

    /// <summary>
    /// Polls (blocking, woken at least every 10 ms by a heartbeat timer so that the deadline is seen even if the
    /// awaited work was lost) until <paramref name="done"/> holds. Exceptions from <c>Poll</c> go to
    /// <paramref name="faults"/> and the loop goes on: a scenario judges them afterwards. A Poll that throws on
    /// every call would spin here until the deadline; after <see cref="MaxConsecutiveThrows"/> in a row the loop
    /// gives up early.
    /// </summary>
    public static bool RunUntil(AioContext ctx, Func<bool> done, TimeSpan limit, PollFaults faults, Action? eachIteration = null)
    {
        AioTimer? heartbeat = null;
        heartbeat = ctx.CreateTimer(AioClock.Monotonic, () => heartbeat!.ArmAfter(TimeSpan.FromMilliseconds(10)));
        heartbeat.ArmAfter(TimeSpan.FromMilliseconds(10));
        try
        {
            long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
            int throwsInARow = 0;
            while (!done())
            {
                if (Environment.TickCount64 > deadline || throwsInARow >= MaxConsecutiveThrows)
                {
                    return false;
                }

                eachIteration?.Invoke();
                try
                {
                    ctx.Poll(true);
                    throwsInARow = 0;
                }
                catch (Exception ex)
                {
                    faults.Record(ex);
                    throwsInARow++;
                }
            }

            return true;
        }
        finally
        {
            heartbeat.Dispose();
        }
    }

    /// <summary>A few more non-blocking iterations, to let a duplicate completion show up before counting.</summary>
    public static void Drain(AioContext ctx, PollFaults faults)
    {
        for (int i = 0; i < 5; i++)
        {
            try
            {
                ctx.Poll(false);
            }
            catch (Exception ex)
            {
                faults.Record(ex);
            }
        }
    }
}
