using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using Xunit;

namespace Aio.Tests.Diagnostics;

public class DiagnosticsTests
{
    [Fact]
    public void Meter_reports_each_live_context_by_name()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Name = "metered-" + Guid.NewGuid().ToString("N") });
        for (int i = 0; i < 5; i++)
        {
            ctx.ScheduleOneShot(() => { });
            ctx.Poll(false);
        }

        var seen = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == AioDiagnostics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "aio.context" && (string?)tag.Value == ctx.Name)
                {
                    seen[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(5, seen["aio.loop.iterations"]);
        Assert.Equal(5, seen["aio.bottom_halves.run"]);
        Assert.True(seen.ContainsKey("aio.uring.sqes"));
        Assert.True(seen.ContainsKey("aio.poll.hits"));
    }

    [Fact]
    public void Event_source_reports_the_fallback_reason()
    {
        using var listener = new Collector();
        using var ctx = AioContext.Create(new AioContextOptions { Name = "fallback-events", SimulatedIoUringErrno = Aio.Interop.Errno.EPERM });
        Assert.Contains(listener.Events, e => e.EventName == "MonitorFallback" && (string?)e.Payload![0] == "fallback-events" && ((string?)e.Payload[3])!.Contains("EPERM"));
        Assert.Contains(listener.Events, e => e.EventName == "MonitorSelected" && (string?)e.Payload![0] == "fallback-events" && (string?)e.Payload[1] == "Poll");
    }

    [Fact]
    public void Event_source_manifest_is_valid_with_the_context_overloads()
    {
        // Strict: an event name used twice, or a [NonEvent] overload taken for an event, throws here instead of
        // silently disabling the source at run time.
        string? manifest = EventSource.GenerateManifest(typeof(Aio.Diagnostics.AioEventSource), "Aio.dll", EventManifestOptions.Strict);
        Assert.NotNull(manifest);
        foreach (var name in new[] { "MonitorFallback", "InvalidFdRemoved", "LoopNotRunning", "LoopStalled" })
        {
            Assert.Contains($"name=\"{name}\"", manifest, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_listener_learns_inside_the_write_whether_the_contexts_owner_reports_the_event(bool subscribed)
    {
        // The invalid-fd warning of an epoll context (its pre-wait sweep finds the fd closed behind the handler's back):
        // with a Warning subscriber the context reports it itself, and a log forwarder would log it twice.
        string name = "owner-reports-" + Guid.NewGuid().ToString("N");
        using var listener = new OwnerReportsListener(name);
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll, Name = name, EpollSweepInterval = TimeSpan.Zero });
        int heard = 0;
        if (subscribed)
        {
            ctx.Warning += (_, _) => heard++;
        }

        var (r, w) = Aio.Interop.Libc.CreatePipe();
        try
        {
            ctx.SetFdHandler(r, () => { }, null);
            ctx.Poll(false);
            Aio.Interop.Libc.CloseQuietly(r);
            // Non-blocking iterations: without a subscriber nothing is scheduled after the sweep, and the loop would sleep.
            Support.Wait.Until(() => !listener.Seen.IsEmpty && heard == (subscribed ? 1 : 0), () => ctx.Poll(false), "the invalid-fd warning");
        }
        finally
        {
            Aio.Interop.Libc.CloseQuietly(w);
        }

        Assert.Equal([subscribed], listener.Seen);
        Assert.False(AioDiagnostics.IsCurrentEventReportedByOwner, "outside an event's write");
    }

    private sealed class OwnerReportsListener(string context) : EventListener
    {
        public ConcurrentQueue<bool> Seen { get; } = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Warning);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName == "InvalidFdRemoved" && (string?)e.Payload![0] == context)
            {
                Seen.Enqueue(AioDiagnostics.IsCurrentEventReportedByOwner);
            }
        }
    }

    private sealed class Collector : EventListener
    {
        public ConcurrentQueue<EventWrittenEventArgs> Events { get; } = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == AioDiagnostics.EventSourceName)
            {
                EnableEvents(source, EventLevel.Verbose);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e) => Events.Enqueue(e);
    }
}
