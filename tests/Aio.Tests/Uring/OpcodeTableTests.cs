using Aio.Uring;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Uring;

public class OpcodeTableTests
{
    private static readonly SqePreparer<int>[] s_helpers =
    [
        static (ref Sqe s, int _) => s.PrepNop(),
        static (ref Sqe s, int _) => s.PrepRead(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepWrite(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepReadv(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepWritev(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepFsync(0, true),
        static (ref Sqe s, int _) => s.PrepPollAdd(0, PollEvents.In),
        static (ref Sqe s, int _) => s.PrepPollRemove(1),
        static (ref Sqe s, int _) => s.PrepTimeout(0, 0, 0),
        static (ref Sqe s, int _) => s.PrepCancel(1),
        static (ref Sqe s, int _) => s.PrepCancelFd(0, true),
        static (ref Sqe s, int _) => s.PrepAccept(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepConnect(0, 0, 0),
        static (ref Sqe s, int _) => s.PrepRecv(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepSend(0, 0, 0, 0),
        static (ref Sqe s, int _) => s.PrepClose(0),
    ];

    [Fact]
    public void Every_opcode_a_helper_prepares_is_in_the_table()
    {
        foreach (var helper in s_helpers)
        {
            var sqe = default(Sqe);
            helper(ref sqe, 0);
            Assert.True(OpcodeTable.Find(sqe.Opcode) is not null, $"{sqe.Opcode} is prepared by a helper but missing from OpcodeTable");
        }
    }

    [Fact]
    public void Table_has_no_duplicates()
        => Assert.Equal(OpcodeTable.Entries.Length, OpcodeTable.Entries.Select(e => e.Opcode).Distinct().Count());

    [IoUringFact]
    public void This_kernel_supports_every_opcode_in_the_table()
    {
        using var ring = Ring.Create();
        foreach (var e in OpcodeTable.Entries)
        {
            Assert.True(ring.Supports(e.Opcode), $"{e.Opcode} (since {e.Since}) is not supported by this kernel's probe");
        }
    }
}
