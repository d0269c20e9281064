namespace Aio;

/// <summary>Fills a submission entry for <c>AioContext.AddSqe</c>; runs on the context's home thread.</summary>
/// <typeparam name="TState">Caller state, passed through without boxing.</typeparam>
/// <param name="sqe">A zeroed entry inside the submission queue.</param>
/// <param name="state">The state given to <c>AddSqe</c>.</param>
public delegate void SqePreparer<TState>(ref Sqe sqe, TState state);
