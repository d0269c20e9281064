using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// Accepts that fail for a reason other than the peer's (EMFILE at the fd limit in practice): an exception out of the
/// transport's AcceptAsync ends Kestrel's accept loop for good, so the transport must log, wait and accept again. The
/// kernel fails accepts on demand when a listening TCP socket is shut down (<see cref="ListeningSockets"/>). (EMFILE
/// itself cannot be had here: a .NET process at its fd limit fails fast with "Out of memory." on either transport.)
/// </summary>
public sealed class AcceptFailureTests
{
    public static TheoryData<TransportKind, bool> Cases => new()
    {
        { TransportKind.Sockets, false },
        { TransportKind.AioThreadPool, false },
        { TransportKind.AioLoop, false },
        { TransportKind.AioLoop, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Accept_failing_for_a_while_does_not_end_the_accept_loop(TransportKind kind, bool listenerPerLoop)
    {
        await using var server = await TestWebServer.StartAsync(
            kind,
            app => app.MapGet("/hello", (HttpContext c) => HttpBasicsTests.Text(c, "hello")),
            aio: o => o.ListenerPerLoop = listenerPerLoop);
        using (var first = server.CreateClient())
        {
            Assert.Equal("hello", await first.GetStringAsync("hello"));
        }

        var listeners = ListeningSockets.OnPort(server.Port);
        Assert.Equal(listenerPerLoop ? 2 : 1, listeners.Count);
        long failuresBefore = AcceptFailures.Total;
        var failing = System.Diagnostics.Stopwatch.StartNew();
        foreach (int fd in listeners)
        {
            ListeningSockets.Stop(fd);
        }

        if (server.ExpectAio)
        {
            // Every listener's pending accept failed (EINVAL) and was logged once at Warning.
            Wait.Until(
                () => server.Logs.Entries.Count(e => e.EventId.Name == "AcceptRetrying") >= listeners.Count,
                () => Thread.Sleep(10),
                "the transport to log the failed accepts");
            Assert.All(server.Logs.Entries.Where(e => e.EventId.Name == "AcceptRetrying"), e => Assert.Equal(LogLevel.Warning, e.Level));
        }

        // listen(2) again. The listener was bound to port 0, so shutting it down gave its port back, and listening
        // again binds a new one: each listener is reached on its own new port.
        var ports = listeners.Select(ListeningSockets.Relisten).ToList();
        failing.Stop();
        if (server.ExpectAio)
        {
            // Backed off, not spun: at most one attempt per back-off period and listener while they failed.
            long bound = listeners.Count * ((long)(failing.Elapsed / AcceptFailures.Backoff) + 2);
            Assert.InRange(AcceptFailures.Total - failuresBefore, listeners.Count, bound);
        }

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        foreach (int port in ports)
        {
            for (int i = 0; i < 4; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/hello") { Headers = { ConnectionClose = true } };
                using var response = await client.SendAsync(request);
                Assert.Equal("hello", await response.Content.ReadAsStringAsync());
            }
        }

        server.AssertNothingLoggedAbove(LogLevel.Warning);
    }
}
