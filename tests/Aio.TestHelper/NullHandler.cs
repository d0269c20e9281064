namespace Aio.TestHelper;

/// <summary>A CqeHandler for requests whose completion nobody checks.</summary>
internal sealed class NullHandler : CqeHandler
{
    protected internal override void OnCompletion(in Cqe cqe)
    {
    }
}
