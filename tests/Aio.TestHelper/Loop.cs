namespace Aio.TestHelper;

/// <summary>Drives a context on the calling thread until a condition holds or a deadline passes.</summary>
internal static class Loop
{
    private const int MaxConsecutiveThrows = 200;

    /// <summary>
    /// How long no request may settle before the loop concludes that the rest were lost: long enough for a loaded
    /// machine (a healthy run settles hundreds of requests per 100 ms under strace), short enough that a test that
    /// loses requests fails in seconds rather than at its overall limit.
    /// </summary>
    private static readonly TimeSpan s_stall = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Polls (blocking, woken at least every 10 ms by a heartbeat timer so that the deadline is seen even if the
    /// awaited work was lost) until <paramref name="done"/> holds. Exceptions from <c>Poll</c> go to
    /// <paramref name="faults"/> and the loop goes on: a scenario judges them afterwards. A Poll that throws on
    /// every call would spin here until the deadline; after <see cref="MaxConsecutiveThrows"/> in a row the loop
    /// gives up early. With <paramref name="progress"/> (a count that grows as work settles), it also gives up when
    /// the count has not moved for <see cref="s_stall"/>.
    /// </summary>
    public static bool RunUntil(AioContext ctx, Func<bool> done, TimeSpan limit, PollFaults faults, Action? eachIteration = null, Func<long>? progress = null)
    {
        AioTimer? heartbeat = null;
        heartbeat = ctx.CreateTimer(AioClock.Monotonic, () => heartbeat!.ArmAfter(TimeSpan.FromMilliseconds(10)));
        heartbeat.ArmAfter(TimeSpan.FromMilliseconds(10));
        try
        {
            long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
            int throwsInARow = 0;
            long lastProgress = progress?.Invoke() ?? 0;
            long lastProgressAt = Environment.TickCount64;
            while (!done())
            {
                long now = Environment.TickCount64;
                if (progress is not null && progress() is long p && p != lastProgress)
                {
                    lastProgress = p;
                    lastProgressAt = now;
                }

                if (now > deadline || throwsInARow >= MaxConsecutiveThrows || now - lastProgressAt > (long)s_stall.TotalMilliseconds)
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
