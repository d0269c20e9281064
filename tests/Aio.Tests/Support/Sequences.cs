using System.Buffers;

namespace Aio.Tests.Support;

/// <summary>Multi-segment <see cref="ReadOnlySequence{T}"/>s, for the gathered send paths.</summary>
public static class Sequences
{
    /// <summary>A sequence of <paramref name="count"/> segments, segment i being <paramref name="segment"/>(i).</summary>
    public static ReadOnlySequence<byte> Segmented(int count, Func<int, byte[]> segment)
    {
        var first = new Segment(segment(0), 0);
        var last = first;
        for (int i = 1; i < count; i++)
        {
            last = last.Append(segment(i));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>A sequence of the given segments, in order.</summary>
    public static ReadOnlySequence<byte> Of(params ReadOnlyMemory<byte>[] segments)
    {
        var first = new Segment(segments[0], 0);
        var last = first;
        for (int i = 1; i < segments.Length; i++)
        {
            last = last.Append(segments[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
