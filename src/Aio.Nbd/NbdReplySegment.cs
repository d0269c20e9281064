using System.Buffers;

namespace Aio.Nbd;

/// <summary>
/// A piece of a queued reply and what to give back once it is sent: a pooled array or buffer, or the pin that keeps a
/// slice of the export's mapping valid from the moment the reply is queued (the send pins it again while it runs).
/// </summary>
internal readonly record struct NbdReplySegment(ReadOnlyMemory<byte> Memory, byte[]? Array, AlignedBuffer? Buffer, MemoryHandle Pin = default)
{
    public void Release()
    {
        Pin.Dispose();

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
