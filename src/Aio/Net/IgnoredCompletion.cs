namespace Aio.Net;

/// <summary>The completion of a request nobody waits for (an ASYNC_CANCEL: the target's own completion tells the story).</summary>
internal sealed class IgnoredCompletion : CqeHandler
{
    public static readonly IgnoredCompletion Instance = new();

    protected internal override void OnCompletion(in Cqe cqe)
    {
    }
}
