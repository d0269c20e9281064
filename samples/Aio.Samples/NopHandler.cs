using Aio;

namespace AioSamples;

/// <summary>Completes a task with the result of every request it hears about (one object may serve many requests).</summary>
internal sealed class NopHandler : CqeHandler
{
    public TaskCompletionSource<int> Completed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Runs on the loop's thread, once per completion.
    protected override void OnCompletion(in Cqe cqe) => Completed.TrySetResult(cqe.Result);
}
