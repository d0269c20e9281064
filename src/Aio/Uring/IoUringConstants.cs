namespace Aio.Uring;

/// <summary>
/// Constants from include/uapi/linux/io_uring.h. Each value is pinned by <c>AbiTests</c>: hand-copied ABI
/// numbers are where other managed io_uring bindings went wrong.
/// </summary>
internal static class IoUringConstants
{
    // io_uring_setup(2) flags.
    public const uint SetupIoPoll = 1u << 0;
    public const uint SetupSqPoll = 1u << 1;
    public const uint SetupSqAff = 1u << 2;
    public const uint SetupCqSize = 1u << 3;
    public const uint SetupClamp = 1u << 4;
    public const uint SetupAttachWq = 1u << 5;
    public const uint SetupRDisabled = 1u << 6;       // 5.10
    public const uint SetupSubmitAll = 1u << 7;       // 5.18
    public const uint SetupCoopTaskrun = 1u << 8;     // 5.19
    public const uint SetupTaskrunFlag = 1u << 9;     // 5.19
    public const uint SetupSqe128 = 1u << 10;
    public const uint SetupCqe32 = 1u << 11;
    public const uint SetupSingleIssuer = 1u << 12;   // 6.0
    public const uint SetupDeferTaskrun = 1u << 13;   // 6.1
    public const uint SetupNoMmap = 1u << 14;
    public const uint SetupRegisteredFdOnly = 1u << 15;
    public const uint SetupNoSqArray = 1u << 16;      // 6.6

    // io_uring_params.features.
    public const uint FeatSingleMmap = 1u << 0;
    public const uint FeatNoDrop = 1u << 1;
    public const uint FeatSubmitStable = 1u << 2;
    public const uint FeatRwCurPos = 1u << 3;
    public const uint FeatCurPersonality = 1u << 4;
    public const uint FeatFastPoll = 1u << 5;
    public const uint FeatPoll32Bits = 1u << 6;
    public const uint FeatSqPollNonFixed = 1u << 7;
    public const uint FeatExtArg = 1u << 8;
    public const uint FeatNativeWorkers = 1u << 9;
    public const uint FeatRsrcTags = 1u << 10;
    public const uint FeatCqeSkip = 1u << 11;
    public const uint FeatLinkedFile = 1u << 12;
    public const uint FeatRegRegRing = 1u << 13;

    // io_uring_enter(2) flags.
    public const uint EnterGetEvents = 1u << 0;
    public const uint EnterSqWakeup = 1u << 1;
    public const uint EnterSqWait = 1u << 2;
    public const uint EnterExtArg = 1u << 3;
    public const uint EnterRegisteredRing = 1u << 4;

    // The SQ ring's flags word (written by the kernel).
    public const uint SqNeedWakeup = 1u << 0;
    public const uint SqCqOverflow = 1u << 1;
    public const uint SqTaskrun = 1u << 2;

    // io_uring_cqe.flags.
    public const uint CqeFBuffer = 1u << 0;
    public const uint CqeFMore = 1u << 1;
    public const uint CqeFSockNonEmpty = 1u << 2;
    public const uint CqeFNotif = 1u << 3;

    // mmap offsets.
    public const long OffSqRing = 0;
    public const long OffCqRing = 0x8000000;
    public const long OffSqes = 0x10000000;

    // io_uring_register(2) opcodes.
    public const uint RegisterFiles = 2;
    public const uint RegisterFilesUpdate = 6;

    /// <summary>IORING_REGISTER_FILES2 (5.13): the table in an io_uring_rsrc_register, without quiescing the ring.</summary>
    public const uint RegisterFiles2 = 13;
    public const uint RegisterBuffers2 = 15;
    public const uint RegisterBuffersUpdate = 16;

    /// <summary>IORING_RSRC_REGISTER_SPARSE (5.19): a table of empty slots.</summary>
    public const uint RsrcRegisterSparse = 1u << 0;
    public const uint RegisterEventFd = 4;
    public const uint UnregisterEventFd = 5;
    public const uint RegisterProbe = 8;
    public const uint RegisterEnableRings = 12;
    public const uint RegisterRingFds = 20;
    public const uint UnregisterRingFds = 21;

    // Per-opcode flags.
    public const uint FsyncDatasync = 1u << 0;
    public const uint PollAddMulti = 1u << 0;
    public const uint PollUpdateEvents = 1u << 1;
    public const uint PollUpdateUserData = 1u << 2;
    public const uint TimeoutAbs = 1u << 0;
    public const uint AsyncCancelAll = 1u << 0;
    public const uint AsyncCancelFd = 1u << 1;
    public const uint AsyncCancelAny = 1u << 2;

    /// <summary>sizeof(struct io_uring_sqe) without SQE128.</summary>
    public const int SqeSize = 64;

    /// <summary>sizeof(struct io_uring_cqe) without CQE32.</summary>
    public const int CqeSize = 16;
}
