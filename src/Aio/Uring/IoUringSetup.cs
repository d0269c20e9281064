using Aio.Uring;

namespace Aio;

/// <summary>What <c>io_uring_setup</c> accepted: the flags in force, the kernel's features and the queue sizes.</summary>
/// <param name="Flags">The IORING_SETUP_* flags the kernel accepted.</param>
/// <param name="Features">The IORING_FEAT_* bits the kernel reported.</param>
/// <param name="SqEntries">Submission queue entries.</param>
/// <param name="CqEntries">Completion queue entries (four times <paramref name="SqEntries"/> when CQSIZE was accepted, capped at the kernel's 65536).</param>
public sealed record IoUringSetup(uint Flags, uint Features, int SqEntries, int CqEntries)
{
    /// <summary>IORING_SETUP_SINGLE_ISSUER (6.0) is in force: only the home thread may submit.</summary>
    public bool SingleIssuer => (Flags & IoUringConstants.SetupSingleIssuer) != 0;

    /// <summary>IORING_SETUP_DEFER_TASKRUN (6.1): completions run as task work when the home thread enters the kernel.</summary>
    public bool DeferTaskrun => (Flags & IoUringConstants.SetupDeferTaskrun) != 0;

    /// <summary>IORING_SETUP_COOP_TASKRUN (5.19): no inter-processor interrupt to run completion task work.</summary>
    public bool CoopTaskrun => (Flags & IoUringConstants.SetupCoopTaskrun) != 0;

    /// <summary>IORING_SETUP_TASKRUN_FLAG (5.19): the kernel sets IORING_SQ_TASKRUN when task work is pending.</summary>
    public bool TaskrunFlag => (Flags & IoUringConstants.SetupTaskrunFlag) != 0;
}
