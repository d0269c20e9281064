using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// Cancellation tokens that live longer than the operations they cancel. Runs alone: it measures the whole process's
/// heap, which tests running beside it would change between the two measurements.
/// </summary>
[Collection(ProcessStateCollection.Name)]
public class TokenRetentionTests
{
    [IoUringFact]
    public async Task A_long_lived_token_retains_no_memory_per_read()
    {
        const int Reads = 20_000;
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 4096);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        using var io = IoThread.Start("token-retention");
        var buffer = new byte[64];
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 3 && best > Reads * 4L; attempt++)
        {
            // Only the source holds what registrations it retains: measure the heap with it alive, then without it.
            var holder = new CancellationTokenSource[] { new() };
            await Task.Run(async () =>
            {
                var token = holder[0].Token;
                for (int i = 0; i < Reads; i++)
                {
                    Assert.Equal(64, await io.Context.ReadAsync(file, buffer, 0, token));
                }
            }).WaitAsync(TimeSpan.FromSeconds(60));
            long withToken = GC.GetTotalMemory(forceFullCollection: true);
            holder[0] = null!;
            long withoutToken = GC.GetTotalMemory(forceFullCollection: true);
            best = Math.Min(best, withToken - withoutToken);
        }

        // Before the fix: ~70 bytes per read (a registration never disposed). Allow 4 bytes per read of noise.
        Assert.True(best <= Reads * 4L, $"the token retained {best} bytes over {Reads} reads ({(double)best / Reads:0.#} per read)");
    }
}
