using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// struct epoll_event. Its layout differs per architecture: x86_64 declares it
/// <c>__attribute__((packed))</c> (12 bytes, <c>data</c> at offset 4) while arm64 uses natural alignment
/// (16 bytes, <c>data</c> at offset 8). A fixed C# layout cannot express both, so events are read and
/// written through this helper with the stride chosen at run time.
/// </summary>
internal static unsafe class EpollEvent
{
    // sys/epoll.h event bits (same values as poll's).
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLPRI = 0x002;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;

    /// <summary>sizeof(struct epoll_event) for this process's architecture.</summary>
    public static readonly int Size = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>offsetof(struct epoll_event, data).</summary>
    public static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    public static void Write(byte* slot, uint events, ulong data)
    {
        Unsafe.WriteUnaligned(slot, events);
        Unsafe.WriteUnaligned(slot + DataOffset, data);
    }

    public static uint ReadEvents(byte* array, int index) => Unsafe.ReadUnaligned<uint>(array + (index * Size));

    public static ulong ReadData(byte* array, int index) => Unsafe.ReadUnaligned<ulong>(array + (index * Size) + DataOffset);
}
