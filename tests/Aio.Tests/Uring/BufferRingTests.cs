using Aio.Tests.Support;
using Aio.Uring;
using Xunit;

namespace Aio.Tests.Uring;

/// <summary>A provided-buffer ring whose memory cannot be had. Alone in the process: it measures the process's address space.</summary>
[Collection(ProcessStateCollection.Name)]
public class BufferRingTests
{
    [HugeAllocationFailsFact]
    public void A_buffer_ring_whose_buffers_cannot_be_allocated_throws_and_frees_its_entries()
    {
        using var ring = Ring.Create(new RingOptions { Entries = 8 });
        ring.Enable();

        // 32768 buffers of 2 GiB: the buffers' allocation fails (64 TiB), after the entries' (512 KiB) succeeded. Before
        // the fix each attempt leaked those 512 KiB of address space; 2,000 attempts leak 1 GiB, far above what the
        // rest of a parallel suite moves the process's mappings by.
        long before = VirtualSize();
        for (int i = 0; i < 2_000; i++)
        {
            Assert.Throws<OutOfMemoryException>(() => BufferRing.TryCreate(ring, groupId: 0, count: 32768, bufferSize: int.MaxValue, out _));
        }

        long grown = VirtualSize() - before;
        Assert.True(grown < 256L << 20, $"the process's address space grew by {grown >> 20} MiB over 2,000 failed buffer rings: the entries leak");
    }

    /// <summary>VmSize from /proc/self/status, in bytes.</summary>
    private static long VirtualSize()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmSize:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(7).Trim().TrimEnd("kB").Trim()) * 1024;
            }
        }

        throw new InvalidOperationException("/proc/self/status has no VmSize line");
    }
}
