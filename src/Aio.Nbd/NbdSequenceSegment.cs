using System.Buffers;

namespace Aio.Nbd;

/// <summary>A reusable link of the <see cref="ReadOnlySequence{T}"/> handed to one gathered send.</summary>
internal sealed class NbdSequenceSegment : ReadOnlySequenceSegment<byte>
{
    public void Set(ReadOnlyMemory<byte> memory, long runningIndex, NbdSequenceSegment? next)
    {
        Memory = memory;
        RunningIndex = runningIndex;
        Next = next;
    }
}
