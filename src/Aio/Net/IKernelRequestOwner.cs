namespace Aio.Net;

/// <summary>What a <see cref="KernelRequest"/> reports to the socket part that submitted it (loop thread).</summary>
internal interface IKernelRequestOwner
{
    /// <summary>One completion (a multishot request reports several; the last without <see cref="Cqe.HasMore"/>).</summary>
    void OnKernelCompletion(KernelRequest request, in Cqe cqe);

    /// <summary>
    /// The context was disposed with the request in flight. <paramref name="kernelReleased"/> false: the kernel may
    /// still use memory the request points at, which must then never be released.
    /// </summary>
    void OnKernelAbandoned(KernelRequest request, bool kernelReleased);

    /// <summary>
    /// A completion that arrived while the context was being disposed, not delivered: only a resource it hands over
    /// (an accepted fd) needs handling. Most owners have none.
    /// </summary>
    void OnKernelAbandonedCompletion(KernelRequest request, in Cqe cqe)
    {
    }
}
