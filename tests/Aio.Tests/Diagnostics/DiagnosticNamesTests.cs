using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using Xunit;

namespace Aio.Tests.Diagnostics;

public class DiagnosticNamesTests
{
    [Fact]
    public void Meter_and_event_source_have_distinct_names_so_dotnet_counters_shows_both()
    {
        Assert.Equal("Aio", AioDiagnostics.MeterName);
        Assert.Equal("Aio-EventLoop", AioDiagnostics.EventSourceName);
        Assert.NotEqual(AioDiagnostics.MeterName, AioDiagnostics.EventSourceName, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_published_names_are_the_ones_in_use()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Name = "names-" + Guid.NewGuid().ToString("N") });
        var sources = EventSource.GetSources().Select(s => s.Name).ToList();
        Assert.Contains(AioDiagnostics.EventSourceName, sources);
        Assert.DoesNotContain(AioDiagnostics.MeterName, sources);

        var meters = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Name == "aio.loop.iterations")
            {
                meters.Add(instrument.Meter.Name);
            }
        };
        listener.Start();
        Assert.Equal([AioDiagnostics.MeterName], meters.Distinct());
    }
}
