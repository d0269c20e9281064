using Xunit;

namespace Aio.Tests.Context;

/// <summary>The adjust rule of docs/DESIGN.md "Adaptive polling", as a pure function.</summary>
public class WindowTests
{
    private const long Max = 32768;

    [Theory]
    [InlineData(0, 1000, 2, 4000)]        // grow from 0 starts at 4 µs
    [InlineData(4000, 5000, 2, 8000)]     // grow doubles
    [InlineData(4000, 5000, 0, 8000)]     // grow 0 means 2
    [InlineData(4000, 5000, 3, 12000)]    // grow by the factor
    [InlineData(20000, 30000, 2, Max)]    // capped at the ceiling
    [InlineData(4000, 5000, 1L << 62, Max)]             // a factor whose product overflows: capped, not wrapped
    [InlineData(4000, 5000, long.MaxValue / 3, Max)]
    public void Grows_while_block_time_is_under_the_ceiling(long window, long block, long grow, long expected)
        => Assert.Equal(expected, AioContext.AdjustWindow(window, block, Max, grow, 0));

    [Theory]
    [InlineData(8000, 1000)]
    [InlineData(8000, 8000)]
    [InlineData(0, 0)]
    public void Keeps_when_the_block_fit_in_the_window(long window, long block)
        => Assert.Equal(window, AioContext.AdjustWindow(window, block, Max, 2, 2));

    [Fact]
    public void Shrink_zero_resets_to_zero()
        => Assert.Equal(0, AioContext.AdjustWindow(16000, Max + 1, Max, 2, 0));

    [Fact]
    public void Shrink_n_divides()
        => Assert.Equal(4000, AioContext.AdjustWindow(16000, Max + 1, Max, 2, 4));

    [Fact]
    public void Window_at_the_ceiling_stays_there_for_blocks_at_the_ceiling()
        => Assert.Equal(Max, AioContext.AdjustWindow(Max, Max, Max, 2, 2));
}
