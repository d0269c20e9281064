using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// The write tracker's ordering rules: plain writes never wait; a serialising one waits for every earlier write it
/// overlaps, and every later write that overlaps it waits for it, even one that arrives while it is still waiting.
/// </summary>
public class NbdWriteTrackerTests
{
    [Fact]
    public void Overlapping_plain_writes_do_not_wait_for_each_other()
    {
        var tracker = new NbdWriteTracker();
        var first = tracker.BeginAsync(0, 8192, serialising: false);
        var second = tracker.BeginAsync(4096, 12288, serialising: false);
        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        tracker.End(second.Result);
        tracker.End(first.Result);
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public async Task A_serialising_write_waits_for_earlier_overlaps_and_later_overlaps_wait_for_it()
    {
        var tracker = new NbdWriteTracker();
        var plain = tracker.BeginAsync(0, 4096, serialising: false).Result;
        var elsewhere = tracker.BeginAsync(8192, 12288, serialising: false).Result;

        var rmw = tracker.BeginAsync(0, 4096, serialising: true).AsTask();
        Assert.False(rmw.IsCompleted, "a read-modify-write went ahead while an aligned write of its block was in flight");

        // Arrives while the read-modify-write still waits: it must not overtake it (no starvation).
        var later = tracker.BeginAsync(0, 4096, serialising: false).AsTask();
        var unrelated = tracker.BeginAsync(4096, 8192, serialising: false);
        Assert.True(unrelated.IsCompletedSuccessfully, "a write of another block waited");
        Assert.False(later.IsCompleted);

        tracker.End(elsewhere);
        Assert.False(rmw.IsCompleted, "ending a write of another block released the read-modify-write");
        tracker.End(plain);
        var rmwEntry = await rmw.WaitAsync(Wait.Default);
        Assert.False(later.IsCompleted, "a later write of the block went ahead of the read-modify-write");

        tracker.End(rmwEntry);
        tracker.End(await later.WaitAsync(Wait.Default));
        tracker.End(unrelated.Result);
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public async Task Serialising_writes_of_one_block_go_one_at_a_time_in_arrival_order()
    {
        var tracker = new NbdWriteTracker();
        var order = new List<int>();
        var tasks = new List<Task>();
        var entries = new NbdWriteTracker.Entry[5];
        for (int i = 0; i < entries.Length; i++)
        {
            int index = i;
            tasks.Add(tracker.BeginAsync(0, 4096, serialising: true).AsTask().ContinueWith(t =>
            {
                lock (order)
                {
                    order.Add(index);
                }

                entries[index] = t.Result;
            }, TaskContinuationOptions.ExecuteSynchronously));
        }

        for (int i = 0; i < entries.Length; i++)
        {
            await tasks[i].WaitAsync(Wait.Default);
            for (int j = i + 1; j < entries.Length; j++)
            {
                Assert.False(tasks[j].IsCompleted, $"write {j} went ahead while write {i} was in flight");
            }

            tracker.End(entries[i]);
        }

        Assert.Equal([0, 1, 2, 3, 4], order);
        Assert.Equal(0, tracker.Count);
    }
}
