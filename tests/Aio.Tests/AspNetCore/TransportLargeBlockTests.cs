using Aio.AspNetCore;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// The transport's use of <see cref="LargeBlockPool"/>: a large response goes out in 64 KiB blocks, intact, and every one
/// comes back; responses of a block or two never take one.
/// </summary>
public sealed class TransportLargeBlockTests
{
    [IoUringTheory]
    [InlineData(AioSchedulingMode.Loop)]
    [InlineData(AioSchedulingMode.ThreadPool)]
    public async Task A_1_MiB_response_goes_out_in_large_blocks_intact_and_every_block_comes_back(AioSchedulingMode mode)
    {
        await using var setup = await OneConnectionTransport.Start(mode);
        var body = new byte[1024 * 1024];
        for (int i = 0; i < body.Length; i++)
        {
            body[i] = (byte)(i % 251);
        }

        await setup.Write(body);
        var received = await setup.Receive(body.Length);
        Assert.True(body.AsSpan().SequenceEqual(received), "the 1 MiB response arrived changed");

        var large = setup.Scheduler.LargeBlocks;
        Assert.True(large.Made > 0, "no 64 KiB block was used for a 1 MiB response");
        Assert.True(large.Made <= body.Length / LargeBlockPool.BlockSize, $"{large.Made} large blocks made for one 1 MiB response");
        await setup.Server.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Wait.Until(() => large.Retained == large.Made, () => Thread.Sleep(5), $"every large block back in the pool ({large.Retained} of {large.Made})");
    }

    [IoUringTheory]
    [InlineData(AioSchedulingMode.Loop)]
    [InlineData(AioSchedulingMode.ThreadPool)]
    public async Task Small_responses_sent_one_by_one_never_take_a_large_block(AioSchedulingMode mode)
    {
        await using var setup = await OneConnectionTransport.Start(mode);
        var response = new byte[3000];
        var blocks = setup.Server.OutputBlocks;
        Assert.NotNull(blocks);
        for (int i = 0; i < 50; i++)
        {
            await setup.Write(response);
            await setup.Receive(response.Length);

            // The client has it once the kernel does; the pump marks the end of the burst after its completion.
            Wait.Until(() => blocks.RentsSinceDrained == 0, () => Thread.Sleep(1), $"the send pump to finish response {i}");
        }

        Assert.Equal(0, setup.Scheduler.LargeBlocks.Made);
    }
}
