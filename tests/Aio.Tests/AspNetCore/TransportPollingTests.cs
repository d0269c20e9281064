using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// <see cref="AioTransportOptions.PollMaxNs"/>: the busy-poll ceiling of the transport's own loops, set before they
/// accept (null: the IoThread default; 0: they never poll).
/// </summary>
public class TransportPollingTests
{
    private const int Requests = 100;

    private static void MapHello(WebApplication app) => app.MapGet("/hello", () => "hello");

    private static IReadOnlyList<IoThread> Loops(TestWebServer server)
    {
        var factory = server.App.Services.GetServices<IConnectionListenerFactory>().OfType<AioTransportFactory>().Single();
        Assert.True(factory.TryGetLoops(out var loops, out _), "the transport's loops did not start");
        return loops.Group.Threads;
    }

    [IoUringTheory]
    [InlineData(null, IoThread.DefaultPollMaxNs)]
    [InlineData(0L, 0L)]
    [InlineData(5_000L, 5_000L)]
    public async Task PollMaxNs_is_every_loops_ceiling_and_keeps_the_growth_factors(long? option, long expected)
    {
        await using var server = await TestWebServer.StartAsync(TransportKind.AioLoop, MapHello, aio: o =>
        {
            o.PollMaxNs = option;
            o.ContextOptions = new AioContextOptions { PollGrow = 4, PollShrink = 3 };
        });
        Assert.All(Loops(server), t =>
        {
            Assert.Equal(expected, t.Context.PollCeilingNs);
            Assert.Equal(4, t.Context.PollGrowFactor);
            Assert.Equal(3, t.Context.PollShrinkDivisor);
        });
    }

    [IoUringFact]
    public async Task With_PollMaxNs_0_no_loop_polls_while_it_serves()
    {
        // ThreadPool mode: Kestrel's writes come from pool threads and wake the loops, whose notifier is then polled
        // under any ceiling above 0.
        await using var server = await TestWebServer.StartAsync(TransportKind.AioThreadPool, MapHello, aio: o => o.PollMaxNs = 0);
        using var client = server.CreateClient();
        for (int i = 0; i < Requests; i++)
        {
            Assert.Equal("hello", await client.GetStringAsync(new Uri(server.BaseUri, "hello")).Within("the response"));
        }

        foreach (var thread in Loops(server))
        {
            var s = thread.Context.Statistics;
            Assert.True(s.PollSuccesses + s.PollFailures == 0, $"{thread.Name} polled {s.PollSuccesses + s.PollFailures} times with PollMaxNs 0");
        }
    }

    [Fact]
    public void A_negative_PollMaxNs_is_refused_when_set()
    {
        var options = new AioTransportOptions { PollMaxNs = 1 };
        Assert.Throws<ArgumentOutOfRangeException>(() => options.PollMaxNs = -1);
        Assert.Equal(1, options.PollMaxNs);
    }
}
