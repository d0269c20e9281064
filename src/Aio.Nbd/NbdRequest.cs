namespace Aio.Nbd;

/// <summary>A compact request header (28 bytes on the wire). Offset and length are kept unsigned: checked in 64 bits.</summary>
internal readonly record struct NbdRequest(ushort Flags, ushort Type, ulong Cookie, ulong Offset, uint Length);
