namespace Aio.Tests.Support;

/// <summary>For tests that count the thread pool's work items, a count the whole process shares.</summary>
public static class ThreadPoolQuiet
{
    /// <summary>Waits (bounded) until the pool completes fewer than 5 work items in 50 ms: work an earlier test left has finished.</summary>
    public static void Wait() => Support.Wait.Until(IsQuiet, () => { }, "the thread pool to go quiet (under 5 work items in 50 ms)");

    private static bool IsQuiet()
    {
        long start = ThreadPool.CompletedWorkItemCount;
        Thread.Sleep(50);
        return ThreadPool.CompletedWorkItemCount - start < 5;
    }
}
