using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Aio.Nbd;

/// <summary>Builds reply headers (simple replies and structured chunks) into pooled arrays.</summary>
internal static class NbdReplies
{
    public static NbdReplySegment Simple(ulong cookie, uint error)
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(NbdProtocol.SimpleReplySize);
        BinaryPrimitives.WriteUInt32BigEndian(array, NbdProtocol.SimpleReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(4), error);
        BinaryPrimitives.WriteUInt64BigEndian(array.AsSpan(8), cookie);
        return new NbdReplySegment(array.AsMemory(0, NbdProtocol.SimpleReplySize), array, null);
    }

    /// <summary>A chunk header followed by <paramref name="extra"/> bytes the caller fills (at index 20).</summary>
    public static (NbdReplySegment Segment, byte[] Array) Chunk(ulong cookie, ushort flags, ushort type, uint length, int extra)
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(NbdProtocol.StructuredHeaderSize + extra);
        BinaryPrimitives.WriteUInt32BigEndian(array, NbdProtocol.StructuredReplyMagic);
        BinaryPrimitives.WriteUInt16BigEndian(array.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(array.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(array.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(16), length);
        return (new NbdReplySegment(array.AsMemory(0, NbdProtocol.StructuredHeaderSize + extra), array, null), array);
    }

    public static NbdReplySegment Error(ulong cookie, uint error, string message)
    {
        int messageLength = Encoding.UTF8.GetByteCount(message);
        var (segment, array) = Chunk(cookie, NbdProtocol.ReplyFlagDone, NbdProtocol.ReplyTypeError, (uint)(6 + messageLength), 6 + messageLength);
        BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(20), error);
        BinaryPrimitives.WriteUInt16BigEndian(array.AsSpan(24), (ushort)messageLength);
        Encoding.UTF8.GetBytes(message, array.AsSpan(26));
        return segment;
    }

    public static NbdReplySegment Done(ulong cookie)
        => Chunk(cookie, NbdProtocol.ReplyFlagDone, NbdProtocol.ReplyTypeNone, 0, 0).Segment;

    public static NbdReplySegment DataHeader(ulong cookie, bool done, ulong offset, int length)
    {
        var (segment, array) = Chunk(cookie, done ? NbdProtocol.ReplyFlagDone : (ushort)0, NbdProtocol.ReplyTypeOffsetData, (uint)(8 + length), 8);
        BinaryPrimitives.WriteUInt64BigEndian(array.AsSpan(20), offset);
        return segment;
    }

    public static NbdReplySegment Hole(ulong cookie, bool done, ulong offset, uint length)
    {
        var (segment, array) = Chunk(cookie, done ? NbdProtocol.ReplyFlagDone : (ushort)0, NbdProtocol.ReplyTypeOffsetHole, 12, 12);
        BinaryPrimitives.WriteUInt64BigEndian(array.AsSpan(20), offset);
        BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(28), length);
        return segment;
    }

    /// <summary>The NBD error for a failed system call (QEMU's mapping; anything else is EINVAL).</summary>
    public static uint ErrorFor(Exception ex) => ex switch
    {
        AioException aio => ErrorForErrno(aio.Errno, NbdProtocol.EINVAL),

        // RandomAccess (the page-cache write path) throws IOException carrying the raw errno as its HResult.
        IOException io => ErrorForErrno(io.HResult, NbdProtocol.EIO),
        UnauthorizedAccessException => NbdProtocol.EPERM,   // RandomAccess's EACCES, EPERM, EROFS
        ObjectDisposedException => NbdProtocol.ESHUTDOWN,
        _ => NbdProtocol.EINVAL,
    };

    private static uint ErrorForErrno(int errno, uint otherwise) => errno switch
    {
        1 or 13 or 30 => NbdProtocol.EPERM,           // EPERM, EACCES, EROFS
        5 => NbdProtocol.EIO,
        12 => NbdProtocol.ENOMEM,
        27 or 28 or 122 => NbdProtocol.ENOSPC,        // EFBIG, ENOSPC, EDQUOT
        _ => otherwise,
    };
}
