using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>The server's loops report their own trouble to the server's log: a stalled loop, a callback that threw.</summary>
public sealed class NbdLoopLogTests
{
    [Fact]
    public void A_stalled_loop_and_a_throwing_callback_are_logged_and_the_loop_serves_on()
    {
        using var server = new NbdTestServer(configure: o => o with { LoopOptions = new AioContextOptions { LoopStallThreshold = TimeSpan.FromMilliseconds(50) } });
        var loop = server.Server.Group.Threads[1];

        using (var release = new ManualResetEventSlim())
        {
            // Bounded: released once the warning is seen; a missing warning fails below, not by a hang.
            loop.Context.ScheduleOneShot(() => release.Wait(TimeSpan.FromSeconds(20)));
            Wait.Until(
                () => server.LogLines.Any(l => l.StartsWith($"aio nbd: Context {loop.Context.Name}: the loop has been running callbacks for ", StringComparison.Ordinal)),
                () => Thread.Sleep(5),
                "the stalled loop's warning in the server's log");
            release.Set();
        }

        loop.Context.ScheduleOneShot(() => throw new InvalidOperationException("a callback's own bug"));
        Wait.Until(
            () => server.LogLines.Contains($"aio nbd: {loop.Name}: a callback threw: InvalidOperationException: a callback's own bug"),
            () => Thread.Sleep(5),
            "the callback's exception in the server's log");

        // The loops serve on: clients (spread round robin over them) negotiate and read.
        for (int i = 0; i < server.Server.Group.Threads.Count; i++)
        {
            using var client = new RawNbdClient(server.SocketPath);
            var (size, _) = client.Negotiate();
            Assert.Equal((ulong)new FileInfo(server.ImagePath).Length, size);
            client.SendRequest(0, 0, (ulong)i, 0, 4096);
            Assert.Equal(0u, client.ReadSimpleReply(4096).Error);
        }
    }
}
