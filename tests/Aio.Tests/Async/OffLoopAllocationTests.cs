using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// Reads awaited off the loop (their continuations resume on the thread pool) allocate nothing per read either: the
/// operation is pooled, the foreign hand-over is pooled, and an async method's continuation is queued to the pool as
/// its own state machine box. Counted process-wide, so in the non-parallel collection (nothing else runs meanwhile).
/// </summary>
[Collection(FdCountingCollection.Name)]
public class OffLoopAllocationTests
{
    private const int Reads = 20_000;

    [IoUringFact]
    public async Task BlockFile_reads_awaited_off_the_loop_allocate_nothing_per_read()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 1 << 20, seed: 29);
        using var io = IoThread.Start("off-loop-alloc");
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = false, ReadOnly = true });
        using var buffer = new AlignedBuffer(4096, 4096);

        async Task ReadMany()
        {
            for (int i = 0; i < Reads; i++)
            {
                await file.ReadAsync(buffer.Memory, (i % 256) * 4096L).ConfigureAwait(false);
            }
        }

        // Warm-up: pools, queues and the JIT settle.
        await Task.Run(ReadMany).WaitAsync(Wait.Default);
        Assert.True(buffer.Memory.Span.SequenceEqual(content.AsSpan(((Reads - 1) % 256) * 4096, 4096)), "the reads returned other data");

        // Process-wide, the runtime's own background work counts too: rounds are measured until one stays under 1 byte
        // per read (a single allocation per read would be 24 bytes or more).
        var rounds = new List<long>();
        for (int r = 0; r < 5 && (rounds.Count == 0 || rounds[^1] >= Reads); r++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await Task.Run(ReadMany).WaitAsync(Wait.Default);
            rounds.Add(GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        Assert.True(rounds[^1] < Reads, $"bytes allocated per round of {Reads} reads awaited off the loop: {string.Join(", ", rounds)}");
    }
}
