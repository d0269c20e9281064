using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary><c>await using</c> for a context and an IoThread.</summary>
public class AsyncDisposeTests
{
    [Fact]
    public async Task DisposeAsync_disposes_a_context_and_an_IoThread()
    {
        var ctx = AioContext.Create();
        await ctx.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));

        var io = IoThread.Start("async-dispose");
        var context = io.Context;
        int ran = 0;
        await context.InvokeAsync(() =>
        {
            ran++;
            return Task.CompletedTask;
        }).WaitAsync(Wait.Default);
        await io.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        Assert.Equal(1, ran);
        Assert.Throws<ObjectDisposedException>(() => context.ScheduleOneShot(() => { }));
        await io.DisposeAsync();   // twice is fine
    }
}
