using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Monitors;

/// <summary>
/// epoll registers files, not fd numbers: fds closed behind the monitor's back, and numbers reused while a dup keeps
/// the old file open (issue 10, "likely bugs").
/// </summary>
public class EpollIdentityTests
{
    private static AioContext NewEpollContext(string name)
        => AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll, Name = name, EpollSweepInterval = TimeSpan.Zero });

    [Fact]
    public void A_handler_for_a_reused_fd_number_never_fires_on_the_old_files_readiness()
    {
        using var ctx = NewEpollContext("epoll-reuse-" + Guid.NewGuid().ToString("N"));
        var (oldR, oldW) = Libc.CreatePipe();
        int keep = Errors.Check(Libc.Dup(oldR), "dup");
        int fd = oldR;
        var (newR, newW) = Libc.CreatePipe();
        try
        {
            int oldRuns = 0;
            int newRuns = 0;
            ctx.SetFdHandler(fd, () => oldRuns++, null);
            ctx.Poll(false);

            // Closed behind the context's back and reused for a new pipe, which gets a handler of its own: dup3 does
            // both at once (a close first would let a test running beside this one take the number in between). The
            // dup keeps the old pipe (and its epoll registration) alive.
            Errors.Check(Libc.Dup3(newR, fd, Libc.O_CLOEXEC), "dup3");
            Libc.CloseQuietly(newR);
            newR = -1;
            ctx.SetFdHandler(fd, () =>
            {
                newRuns++;
                Libc.ReadSpan(fd, new byte[16]);
            }, null);

            Libc.WriteSpan(oldW, [1]);
            for (int i = 0; i < 5; i++)
            {
                ctx.Poll(false);
            }

            Assert.Equal(0, oldRuns);
            Assert.True(newRuns == 0, $"the new pipe's handler ran {newRuns} times on the old pipe's readiness");

            // The stale registration is gone: the old pipe, still readable, no longer wakes the loop.
            Assert.False(ctx.Poll(false));
            Libc.WriteSpan(newW, [1]);
            Assert.True(ctx.Poll(false));
            Assert.Equal(1, newRuns);
            ctx.RemoveFdHandler(fd);
        }
        finally
        {
            Libc.CloseQuietly(fd);
            Libc.CloseQuietly(keep);
            Libc.CloseQuietly(oldW);
            Libc.CloseQuietly(newR);
            Libc.CloseQuietly(newW);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_handler_whose_fd_was_closed_behind_its_back_is_removed_with_the_diagnostic_event(bool dupKeepsTheFileOpen)
    {
        string name = "epoll-closed-" + Guid.NewGuid().ToString("N");
        using var listener = new InvalidFdListener(name);
        using var ctx = NewEpollContext(name);
        int baseline = ctx.HandlerCount;
        var (r, w) = Libc.CreatePipe();
        int keep = dupKeepsTheFileOpen ? Errors.Check(Libc.Dup(r), "dup") : -1;
        try
        {
            var warnings = new ConcurrentQueue<AioWarning>();
            ctx.Warning += (_, warning) =>
            {
                if (warning.EventId == 3)
                {
                    warnings.Enqueue(warning);
                }
            };
            int runs = 0;
            ctx.SetFdHandler(r, () => runs++, null);
            ctx.Poll(false);
            Libc.CloseQuietly(r);
            Libc.WriteSpan(w, [1]);
            for (int i = 0; i < 5; i++)
            {
                ctx.Poll(false);
            }

            Assert.Equal(baseline, ctx.HandlerCount);
            Assert.Contains(r, listener.Fds);
            Assert.False(ctx.Poll(false));

            // The context's own subscribers get the same warning, in the EventSource's words.
            var warning = Assert.Single(warnings);
            Assert.Equal((3, "InvalidFdRemoved"), (warning.EventId, warning.EventName));
            Assert.Equal($"Context {name}: fd {r} became invalid while registered; its handler was removed", warning.Message);
        }
        finally
        {
            Libc.CloseQuietly(keep);
            Libc.CloseQuietly(w);
        }
    }

    [Fact]
    public void The_warning_for_a_handler_whose_fd_was_closed_reaches_its_subscribers_without_a_wake_up_from_elsewhere()
    {
        // The sweep that finds the closed fd runs just before the wait, and the warning's delivery is a bottom half it
        // schedules: a blocking Poll with nothing else to do must run it rather than sleep.
        using var ctx = NewEpollContext("epoll-warning-" + Guid.NewGuid().ToString("N"));
        var (r, w) = Libc.CreatePipe();
        try
        {
            int warnings = 0;
            ctx.Warning += (_, warning) => warnings += warning.EventId == 3 ? 1 : 0;
            ctx.SetFdHandler(r, () => { }, null);
            ctx.Poll(false);
            Libc.CloseQuietly(r);
            LoopDriver.PollUntil(ctx, () => warnings == 1, "the invalid-fd warning");
        }
        finally
        {
            Libc.CloseQuietly(w);
        }
    }

    private sealed class InvalidFdListener(string context) : EventListener
    {
        public ConcurrentBag<int> Fds { get; } = [];

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Verbose);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName == "InvalidFdRemoved" && (string?)e.Payload![0] == context)
            {
                Fds.Add((int)e.Payload[1]!);
            }
        }
    }
}
