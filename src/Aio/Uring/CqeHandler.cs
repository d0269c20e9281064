namespace Aio;

/// <summary>
/// Receives the completions of requests added with <c>AioContext.AddSqe</c> (QEMU <c>CqeHandler</c>). One object may
/// serve many requests in flight; each completion arrives with its own <see cref="Cqe"/>.
/// </summary>
public abstract class CqeHandler
{
    /// <summary>Called on the context's home thread once per completion (several times for a multishot request, the last without <see cref="Cqe.HasMore"/>).</summary>
    protected internal abstract void OnCompletion(in Cqe cqe);
}
