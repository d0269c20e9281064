using System.Buffers;

namespace Aio.Nbd;

/// <summary>A piece of a queued reply and what to give back once it is sent.</summary>
internal readonly record struct NbdReplySegment(ReadOnlyMemory<byte> Memory, byte[]? Array, AlignedBuffer? Buffer)
{
    public void Release()
    {
        if (Array is not null)
        {
            ArrayPool<byte>.Shared.Return(Array);
        }

        if (Buffer is not null)
        {
            NbdBufferPool.Return(Buffer);
        }
    }
}
