using System.Diagnostics;
using Xunit;

namespace Aio.Tests.Support;

/// <summary>Bounded waits: every wait in the suite ends, and says what it was waiting for when it fails.</summary>
public static class Wait
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="step"/> until <paramref name="condition"/> holds, or fails after <paramref name="timeout"/>.</summary>
    public static void Until(Func<bool> condition, Action step, string what, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        var limit = timeout ?? Default;
        while (!condition())
        {
            if (sw.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
            }

            step();
        }
    }

    /// <summary>Waits for a task, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static void For(Task task, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Default;
        if (!task.Wait(limit))
        {
            Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
        }
    }

    /// <summary>Joins a thread, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static void Join(Thread thread, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Default;
        if (!thread.Join(limit))
        {
            Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
        }
    }

    /// <summary>Awaits <paramref name="task"/>, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task Within(this Task task, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Default;
        try
        {
            await task.WaitAsync(limit).ConfigureAwait(false);
        }

        // WaitAsync's own timeout, not a TimeoutException of the task's (also when the task ended right after it fired).
        catch (TimeoutException ex) when (!ReferenceEquals(ex, task.Exception?.InnerException))
        {
            Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
        }
    }

    /// <summary>Awaits <paramref name="task"/>, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Default;
        try
        {
            return await task.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException ex) when (!ReferenceEquals(ex, task.Exception?.InnerException))
        {
            Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
            throw;
        }
    }

    /// <summary>Awaits <paramref name="task"/>, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static Task Within(this ValueTask task, string what, TimeSpan? timeout = null) => task.AsTask().Within(what, timeout);

    /// <summary>Awaits <paramref name="task"/>, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static Task<T> Within<T>(this ValueTask<T> task, string what, TimeSpan? timeout = null) => task.AsTask().Within(what, timeout);
}
