namespace Aio;

/// <summary>
/// Fills a submission entry for <c>AioContext.AddSqe</c>; runs on the context's home thread. It should do nothing
/// else: for a request added from another thread it runs when the loop next hands its queue to the kernel (before it
/// busy-polls, right before the kernel call that sleeps, or in an outer loop's prepare), so work it gives the loop (a
/// bottom half, a timer) may wait for the next wake-up; <c>Poll</c>, <c>AddSqe</c> and disposing the context are
/// refused there.
/// </summary>
/// <typeparam name="TState">Caller state, passed through without boxing.</typeparam>
/// <param name="sqe">A zeroed entry inside the submission queue.</param>
/// <param name="state">The state given to <c>AddSqe</c>.</param>
public delegate void SqePreparer<TState>(ref Sqe sqe, TState state);
