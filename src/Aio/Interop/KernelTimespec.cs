using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>struct __kernel_timespec (16 bytes; 64-bit seconds on every architecture).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KernelTimespec
{
    public long Seconds;
    public long Nanoseconds;

    /// <summary>A timespec for a non-negative duration in nanoseconds.</summary>
    public static KernelTimespec FromNanoseconds(long ns) => new() { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
}
