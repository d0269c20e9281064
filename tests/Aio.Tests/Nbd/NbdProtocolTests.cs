using Aio.Nbd;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>The protocol's numbers pinned against an independent copy typed from doc/proto.md.</summary>
public class NbdProtocolTests
{
    [Fact]
    public void Every_protocol_constant_matches_the_specification()
    {
        // Magic numbers (doc/proto.md "Handshake", "Transmission").
        Assert.Equal(0x4e42444d41474943UL, NbdProtocol.NbdMagic);
        Assert.Equal(0x49484156454F5054UL, NbdProtocol.IHaveOpt);
        Assert.Equal(0x0003e889045565a9UL, NbdProtocol.OptionReplyMagic);
        Assert.Equal(0x25609513u, NbdProtocol.RequestMagic);
        Assert.Equal(0x67446698u, NbdProtocol.SimpleReplyMagic);
        Assert.Equal(0x668e33efu, NbdProtocol.StructuredReplyMagic);

        Assert.Equal(new uint[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, new[]
        {
            NbdProtocol.OptExportName, NbdProtocol.OptAbort, NbdProtocol.OptList, NbdProtocol.OptPeekExport, NbdProtocol.OptStartTls,
            NbdProtocol.OptInfo, NbdProtocol.OptGo, NbdProtocol.OptStructuredReply, NbdProtocol.OptListMetaContext,
            NbdProtocol.OptSetMetaContext, NbdProtocol.OptExtendedHeaders,
        });
        Assert.Equal(new uint[] { 1, 2, 3, 4, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006, 0x80000007, 0x80000008, 0x80000009 }, new[]
        {
            NbdProtocol.RepAck, NbdProtocol.RepServer, NbdProtocol.RepInfo, NbdProtocol.RepMetaContext, NbdProtocol.RepErrUnsup,
            NbdProtocol.RepErrPolicy, NbdProtocol.RepErrInvalid, NbdProtocol.RepErrPlatform, NbdProtocol.RepErrTlsReqd,
            NbdProtocol.RepErrUnknown, NbdProtocol.RepErrShutdown, NbdProtocol.RepErrBlockSizeReqd, NbdProtocol.RepErrTooBig,
        });
        Assert.Equal(new ushort[] { 0, 1, 2, 3 }, new[] { NbdProtocol.InfoExport, NbdProtocol.InfoName, NbdProtocol.InfoDescription, NbdProtocol.InfoBlockSize });
        Assert.Equal(new ushort[] { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048 }, new[]
        {
            NbdProtocol.FlagHasFlags, NbdProtocol.FlagReadOnly, NbdProtocol.FlagSendFlush, NbdProtocol.FlagSendFua, NbdProtocol.FlagRotational,
            NbdProtocol.FlagSendTrim, NbdProtocol.FlagSendWriteZeroes, NbdProtocol.FlagSendDf, NbdProtocol.FlagCanMultiConn,
            NbdProtocol.FlagSendResize, NbdProtocol.FlagSendCache, NbdProtocol.FlagSendFastZero,
        });
        Assert.Equal(new ushort[] { 0, 1, 2, 3, 4, 5, 6, 7 }, new[]
        {
            NbdProtocol.CmdRead, NbdProtocol.CmdWrite, NbdProtocol.CmdDisc, NbdProtocol.CmdFlush, NbdProtocol.CmdTrim,
            NbdProtocol.CmdCache, NbdProtocol.CmdWriteZeroes, NbdProtocol.CmdBlockStatus,
        });
        Assert.Equal(new ushort[] { 1, 2, 4, 8, 16 }, new[] { NbdProtocol.CmdFlagFua, NbdProtocol.CmdFlagNoHole, NbdProtocol.CmdFlagDf, NbdProtocol.CmdFlagReqOne, NbdProtocol.CmdFlagFastZero });
        Assert.Equal(new ushort[] { 1, 0, 1, 2, 5, 0x8001, 0x8002 }, new[]
        {
            NbdProtocol.ReplyFlagDone, NbdProtocol.ReplyTypeNone, NbdProtocol.ReplyTypeOffsetData, NbdProtocol.ReplyTypeOffsetHole,
            NbdProtocol.ReplyTypeBlockStatus, NbdProtocol.ReplyTypeError, NbdProtocol.ReplyTypeErrorOffset,
        });
        Assert.Equal(new uint[] { 1, 5, 12, 22, 28, 75, 95, 108 }, new[]
        {
            NbdProtocol.EPERM, NbdProtocol.EIO, NbdProtocol.ENOMEM, NbdProtocol.EINVAL, NbdProtocol.ENOSPC, NbdProtocol.EOVERFLOW, NbdProtocol.ENOTSUP, NbdProtocol.ESHUTDOWN,
        });
        Assert.Equal(1, NbdProtocol.FlagFixedNewstyle);
        Assert.Equal(2, NbdProtocol.FlagNoZeroes);
        Assert.Equal(1u, NbdProtocol.StateHole);
        Assert.Equal(2u, NbdProtocol.StateZero);
        Assert.Equal("base:allocation", NbdProtocol.BaseAllocation);
        Assert.Equal(10809, NbdProtocol.IanaPort);
    }
}
