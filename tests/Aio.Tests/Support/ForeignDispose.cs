namespace Aio.Tests.Support;

/// <summary>A Dispose from a thread other than the home thread, for tests that race it against the home thread's work.</summary>
public static class ForeignDispose
{
    /// <summary>
    /// Disposes <paramref name="ctx"/>, trying again while the home thread is inside the context (the documented
    /// refusal: InvalidOperationException, nothing changed); returns how many times it was refused.
    /// </summary>
    public static int RetryingRefusals(AioContext ctx)
    {
        int refusals = 0;
        while (true)
        {
            try
            {
                ctx.Dispose();
                return refusals;
            }
            catch (InvalidOperationException)
            {
                refusals++;
            }
        }
    }
}
