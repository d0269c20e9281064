namespace Aio.Monitors;

/// <summary>How <see cref="IoUringMonitor.CancelAll"/> asks the kernel to let go of the requests in flight.</summary>
internal enum CancelStrategy
{
    /// <summary>One ASYNC_CANCEL with CANCEL_ALL|CANCEL_ANY (5.19+); on its EINVAL, <see cref="EachByUserData"/>.</summary>
    Any,

    /// <summary>One ASYNC_CANCEL per request, by user_data (5.5+): what kernels 5.5-5.18 need. For tests on newer kernels.</summary>
    EachByUserData,

    /// <summary>Cancel nothing, as if the kernel could not cancel any request: only the deadline ends the wait. For tests.</summary>
    None,
}
