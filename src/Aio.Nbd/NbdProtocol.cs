namespace Aio.Nbd;

/// <summary>The NBD protocol's numbers (the NBD project's <c>doc/proto.md</c>); all on the wire big-endian.</summary>
internal static class NbdProtocol
{
    // Magic numbers.
    public const ulong NbdMagic = 0x4e42444d41474943;          // "NBDMAGIC"
    public const ulong IHaveOpt = 0x49484156454F5054;          // "IHAVEOPT"
    public const ulong OptionReplyMagic = 0x0003e889045565a9;
    public const uint RequestMagic = 0x25609513;
    public const uint SimpleReplyMagic = 0x67446698;
    public const uint StructuredReplyMagic = 0x668e33ef;

    // Handshake flags (server) and client flags.
    public const ushort FlagFixedNewstyle = 1 << 0;
    public const ushort FlagNoZeroes = 1 << 1;
    public const uint ClientFlagFixedNewstyle = 1 << 0;
    public const uint ClientFlagNoZeroes = 1 << 1;

    // Options.
    public const uint OptExportName = 1;
    public const uint OptAbort = 2;
    public const uint OptList = 3;
    public const uint OptPeekExport = 4;
    public const uint OptStartTls = 5;
    public const uint OptInfo = 6;
    public const uint OptGo = 7;
    public const uint OptStructuredReply = 8;
    public const uint OptListMetaContext = 9;
    public const uint OptSetMetaContext = 10;
    public const uint OptExtendedHeaders = 11;

    // Option reply types.
    public const uint RepAck = 1;
    public const uint RepServer = 2;
    public const uint RepInfo = 3;
    public const uint RepMetaContext = 4;
    public const uint RepErrUnsup = 0x80000001;
    public const uint RepErrPolicy = 0x80000002;
    public const uint RepErrInvalid = 0x80000003;
    public const uint RepErrPlatform = 0x80000004;
    public const uint RepErrTlsReqd = 0x80000005;
    public const uint RepErrUnknown = 0x80000006;
    public const uint RepErrShutdown = 0x80000007;
    public const uint RepErrBlockSizeReqd = 0x80000008;
    public const uint RepErrTooBig = 0x80000009;

    // NBD_REP_INFO types.
    public const ushort InfoExport = 0;
    public const ushort InfoName = 1;
    public const ushort InfoDescription = 2;
    public const ushort InfoBlockSize = 3;

    // Transmission flags.
    public const ushort FlagHasFlags = 1 << 0;
    public const ushort FlagReadOnly = 1 << 1;
    public const ushort FlagSendFlush = 1 << 2;
    public const ushort FlagSendFua = 1 << 3;
    public const ushort FlagRotational = 1 << 4;
    public const ushort FlagSendTrim = 1 << 5;
    public const ushort FlagSendWriteZeroes = 1 << 6;
    public const ushort FlagSendDf = 1 << 7;
    public const ushort FlagCanMultiConn = 1 << 8;
    public const ushort FlagSendResize = 1 << 9;
    public const ushort FlagSendCache = 1 << 10;
    public const ushort FlagSendFastZero = 1 << 11;

    // Commands.
    public const ushort CmdRead = 0;
    public const ushort CmdWrite = 1;
    public const ushort CmdDisc = 2;
    public const ushort CmdFlush = 3;
    public const ushort CmdTrim = 4;
    public const ushort CmdCache = 5;
    public const ushort CmdWriteZeroes = 6;
    public const ushort CmdBlockStatus = 7;

    // Command flags.
    public const ushort CmdFlagFua = 1 << 0;
    public const ushort CmdFlagNoHole = 1 << 1;
    public const ushort CmdFlagDf = 1 << 2;
    public const ushort CmdFlagReqOne = 1 << 3;
    public const ushort CmdFlagFastZero = 1 << 4;

    // Structured reply flags and chunk types.
    public const ushort ReplyFlagDone = 1 << 0;
    public const ushort ReplyTypeNone = 0;
    public const ushort ReplyTypeOffsetData = 1;
    public const ushort ReplyTypeOffsetHole = 2;
    public const ushort ReplyTypeBlockStatus = 5;
    public const ushort ReplyTypeError = 0x8001;
    public const ushort ReplyTypeErrorOffset = 0x8002;

    // Errors.
    public const uint EPERM = 1;
    public const uint EIO = 5;
    public const uint ENOMEM = 12;
    public const uint EINVAL = 22;
    public const uint ENOSPC = 28;
    public const uint EOVERFLOW = 75;
    public const uint ENOTSUP = 95;
    public const uint ESHUTDOWN = 108;

    // base:allocation.
    public const string BaseAllocation = "base:allocation";
    public const uint StateHole = 1 << 0;
    public const uint StateZero = 1 << 1;

    // Sizes.
    public const int RequestSize = 28;
    public const int SimpleReplySize = 16;
    public const int StructuredHeaderSize = 20;
    public const int OptionHeaderSize = 16;
    public const int OptionReplyHeaderSize = 20;
    public const int IanaPort = 10809;

    // Limits this server enforces.
    public const int MaxOptionLength = 32 * 1024 * 1024;
    public const int MaxStringLength = 4096;
    public const int MaxPayload = 32 * 1024 * 1024;
    public const int PreferredBlockSize = 4096;

    /// <summary>
    /// The most extents one BLOCK_STATUS reply describes (the protocol lets a server describe less than the range asked
    /// for; clients ask again from where the reply ended). Each costs up to two lseek(2) calls on the loop: 131,072 of
    /// them (QEMU's limit, this server's before) held the loop's other connections for 110-250 ms on a fragmented file.
    /// 2,048 bound that to about 2 ms and a 16 KiB reply.
    /// </summary>
    public const int MaxExtentsPerReply = 2048;
}
