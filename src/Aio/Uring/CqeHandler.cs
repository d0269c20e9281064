namespace Aio;

/// <summary>
/// Receives the completions of requests added with <c>AioContext.AddSqe</c> (QEMU <c>CqeHandler</c>). One object may
/// serve many requests in flight; each completion arrives with its own <see cref="Cqe"/>.
/// </summary>
public abstract class CqeHandler
{
    /// <summary>Called on the context's home thread once per completion (several times for a multishot request, the last without <see cref="Cqe.HasMore"/>).</summary>
    protected internal abstract void OnCompletion(in Cqe cqe);

    /// <summary>The context tagged a request of this handler with <paramref name="userData"/> (home thread). For cancellation.</summary>
    internal virtual void OnSubmitted(ulong userData)
    {
    }

    /// <summary>
    /// The context was disposed with this handler's request in flight, after the kernel let go of it. Raw handlers
    /// hear nothing; ring-backed async operations complete with <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <param name="kernelReleased">False when the kernel may still hold the request (Dispose off the home thread):
    /// memory it points at must then stay pinned for good.</param>
    internal virtual void OnAbandoned(bool kernelReleased)
    {
    }

    /// <summary>
    /// The context is being disposed and this completion of the handler's request arrived during the teardown (or was
    /// reaped and never delivered): it is not delivered, but what it carries is told, so that a resource the kernel
    /// handed over with it (an accepted connection's fd) is not lost. <see cref="OnAbandoned"/> follows for the last one.
    /// </summary>
    internal virtual void OnAbandonedCompletion(in Cqe cqe)
    {
    }

    /// <summary>
    /// Home thread: the preparer of a request handed over from another thread threw, and the entry was turned into an
    /// ignored NOP (the kernel never saw the request). Raw handlers hear nothing and the exception propagates out of
    /// <c>Poll</c>, as a callback exception does; ring-backed async operations complete their awaiter with it instead.
    /// </summary>
    /// <returns>True if the handler delivered <paramref name="exception"/> to its caller, so the loop must not rethrow it.</returns>
    internal virtual bool OnPrepareFailed(Exception exception) => false;
}
