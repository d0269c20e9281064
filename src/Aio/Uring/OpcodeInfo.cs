namespace Aio.Uring;

/// <summary>What Aio knows about one opcode it uses (one row of <see cref="OpcodeTable"/>).</summary>
/// <param name="Opcode">The opcode.</param>
/// <param name="Since">The first kernel version with it, for messages.</param>
/// <param name="PointsAtMemory">The request reads or writes memory the caller owns until the completion (buffers, iovecs, addresses).</param>
/// <param name="Multishot">It can post several completions for one submission.</param>
internal readonly record struct OpcodeInfo(IoUringOpcode Opcode, string Since, bool PointsAtMemory, bool Multishot);
