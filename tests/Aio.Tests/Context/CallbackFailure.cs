namespace Aio.Tests.Context;

/// <summary>What a test callback throws on purpose, so that no other exception is mistaken for it.</summary>
public sealed class CallbackFailure : Exception
{
    public CallbackFailure()
        : base("thrown on purpose by a test callback")
    {
    }
}
