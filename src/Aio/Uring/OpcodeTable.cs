namespace Aio.Uring;

/// <summary>
/// The opcodes Aio itself prepares (the Linux kernel's opdef.c idea: one declarative table). <c>OpcodeTableTests</c>
/// checks that every <see cref="Sqe"/> helper's opcode is here and that this kernel's probe reports each one.
/// </summary>
internal static class OpcodeTable
{
    public static readonly OpcodeInfo[] Entries =
    [
        new(IoUringOpcode.Nop, "5.1", PointsAtMemory: false, Multishot: false),
        new(IoUringOpcode.Readv, "5.1", PointsAtMemory: true, Multishot: false),
        new(IoUringOpcode.Writev, "5.1", PointsAtMemory: true, Multishot: false),
        new(IoUringOpcode.Fsync, "5.1", PointsAtMemory: false, Multishot: false),
        new(IoUringOpcode.PollAdd, "5.1", PointsAtMemory: false, Multishot: true),
        new(IoUringOpcode.PollRemove, "5.1", PointsAtMemory: false, Multishot: false),
        new(IoUringOpcode.Timeout, "5.4", PointsAtMemory: true, Multishot: true),
        new(IoUringOpcode.Accept, "5.5", PointsAtMemory: true, Multishot: true),
        new(IoUringOpcode.AsyncCancel, "5.5", PointsAtMemory: false, Multishot: false),
        new(IoUringOpcode.Connect, "5.5", PointsAtMemory: true, Multishot: false),
        new(IoUringOpcode.Close, "5.6", PointsAtMemory: false, Multishot: false),
        new(IoUringOpcode.Read, "5.6", PointsAtMemory: true, Multishot: false),
        new(IoUringOpcode.Write, "5.6", PointsAtMemory: true, Multishot: false),
        new(IoUringOpcode.Send, "5.6", PointsAtMemory: true, Multishot: false),
        new(IoUringOpcode.Recv, "5.6", PointsAtMemory: true, Multishot: true),
    ];

    /// <summary>The row for <paramref name="opcode"/>, or null when Aio does not prepare it itself.</summary>
    public static OpcodeInfo? Find(IoUringOpcode opcode)
    {
        foreach (var e in Entries)
        {
            if (e.Opcode == opcode)
            {
                return e;
            }
        }

        return null;
    }
}
