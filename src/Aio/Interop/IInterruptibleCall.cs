namespace Aio.Interop;

/// <summary>
/// One system call that may fail with EINTR, packaged (as a struct, so nothing is allocated) for
/// <see cref="Eintr.Retry{TCall}(ref TCall, long)"/>.
/// </summary>
internal interface IInterruptibleCall
{
    /// <summary>
    /// Makes the call once, bounded by <paramref name="timeoutNs"/> (negative: no limit; 0: do not block) where the call
    /// takes a timeout. Returns the raw result: negative on failure, with errno in <see cref="Errors.LastErrno"/>.
    /// </summary>
    long Invoke(long timeoutNs);
}
