using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// <see cref="IoThreadGroup.SetPollParameters"/>: the busy-poll ceiling of every loop at once, checked before the first
/// loop changes; the only way to turn polling off for IoThreads, which read <c>PollMaxNs</c> 0 as the default.
/// </summary>
public class IoThreadGroupPollingTests
{
    [Fact]
    public void SetPollParameters_sets_every_loop_and_a_negative_value_changes_none()
    {
        using var group = IoThreadGroup.Start("group-poll", 3);
        Assert.All(group.Threads, t => Assert.Equal(IoThread.DefaultPollMaxNs, t.Context.PollCeilingNs));

        group.SetPollParameters(0, 0, 0);
        Assert.All(group.Threads, t => Assert.Equal(0, t.Context.PollCeilingNs));

        group.SetPollParameters(10_000, 2, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => group.SetPollParameters(20_000, 2, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => group.SetPollParameters(-1, 0, 0));
        Assert.All(group.Threads, t => Assert.Equal(10_000, t.Context.PollCeilingNs));

        group.Dispose();
        Assert.Throws<ObjectDisposedException>(() => group.SetPollParameters(0, 0, 0));
    }

    [Theory]
    [InlineData(null, IoThread.DefaultPollMaxNs)]
    [InlineData(0L, 0L)]
    [InlineData(9_000L, 9_000L)]
    public void Start_with_a_poll_ceiling_sets_every_loop_and_keeps_the_growth_factors(long? pollMaxNs, long expected)
    {
        using var group = IoThreadGroup.Start("group-start-poll", 2, new AioContextOptions { PollGrow = 4, PollShrink = 3 }, pollMaxNs);
        Assert.All(group.Threads, t =>
        {
            Assert.Equal(expected, t.Context.PollCeilingNs);
            Assert.Equal(4, t.Context.PollGrowFactor);
            Assert.Equal(3, t.Context.PollShrinkDivisor);
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => IoThreadGroup.Start("group-start-bad", 1, null, -1));
    }

    [IoUringFact]
    public async Task With_polling_off_no_loop_of_the_group_polls_for_reads_it_would_otherwise_catch()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 1 << 20, seed: 9);
        using var group = IoThreadGroup.Start("group-poll-off", 2, new AioContextOptions { PollMaxNs = 10_000_000 });
        group.SetPollParameters(0, 0, 0);

        foreach (var thread in group.Threads)
        {
            await using var file = BlockFile.Open(thread.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });
            await thread.Context.InvokeAsync(async () =>
            {
                // One read at a time: under the 10 ms ceiling the group started with, each would be caught by polling
                // (BlockFilePollingTests).
                using var buffer = new AlignedBuffer(4096);
                for (int i = 0; i < 100; i++)
                {
                    Assert.Equal(4096, await file.ReadAsync(buffer.Memory, i % 256 * 4096L));
                }
            }).Within("the reads on " + thread.Name);
            var s = thread.Context.Statistics;
            Assert.True(s.PollSuccesses + s.PollFailures == 0, $"{thread.Name} polled {s.PollSuccesses + s.PollFailures} times with polling off");
        }
    }
}
