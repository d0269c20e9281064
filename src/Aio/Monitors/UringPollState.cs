namespace Aio.Monitors;

/// <summary>The io_uring monitor's bookkeeping for one fd handler (home thread only).</summary>
internal sealed class UringPollState
{
    /// <summary>user_data of the POLL_ADD in flight; 0 when none is.</summary>
    public ulong ArmedUserData { get; set; }

    /// <summary>A POLL_ADD is in flight: the handler may not be reclaimed until its completion arrives.</summary>
    public bool Armed => ArmedUserData != 0;

    /// <summary>Removal was requested (sticky): never re-arm.</summary>
    public bool Removed { get; set; }
}
