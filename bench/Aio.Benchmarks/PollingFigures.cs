using System.Diagnostics;
using System.Globalization;
using Aio.Interop;

namespace Aio.Benchmarks;

/// <summary>
/// The adaptive-polling figures (issue: polling): ping-pong latency and CPU per round trip with polling off and on,
/// idle CPU of a polling IoThread, and the busy handler's rate beside 100 idle polled handlers (seed d37d0e365a).
/// </summary>
internal static class PollingFigures
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static int Run(double seconds)
    {
        foreach (var monitor in new[] { FdMonitorKind.IoUring, FdMonitorKind.Epoll, FdMonitorKind.Poll })
        {
            foreach (long poll in new[] { 0L, 32768L })
            {
                PingPongFigure(monitor, poll);
            }
        }

        IdleCpu(seconds);
        Scalability(seconds);
        return 0;
    }

    private static void PingPongFigure(FdMonitorKind monitor, long pollMaxNs)
    {
        const int N = 20_000;
        using var pp = new PingPong(monitor, pollMaxNs);
        pp.Run(2000);
        var cpu0 = Libc.CpuTime(Libc.RUSAGE_SELF);
        var sw = Stopwatch.StartNew();
        pp.Run(N);
        double us = sw.Elapsed.TotalMicroseconds / N;
        var cpu1 = Libc.CpuTime(Libc.RUSAGE_SELF);
        double cpuUs = ((cpu1.UserUs - cpu0.UserUs) + (cpu1.SystemUs - cpu0.SystemUs)) / (double)N;
        var s = pp.A.Statistics;
        Console.WriteLine(string.Create(s_inv, $"ping-pong {monitor,-7} poll-max-ns {pollMaxNs,6}: {us,7:0.00} us/round trip, CPU {cpuUs,6:0.00} us/round trip, poll hits {s.PollSuccesses}"));
    }

    private static void IdleCpu(double seconds)
    {
        using var io = IoThread.Start("idle", new AioContextOptions { PollMaxNs = 32768 });

        // Give it one event so its handlers join the polling set, then leave it alone.
        io.Context.InvokeAsync(() => Task.CompletedTask).Wait();
        var start = io.Context.InvokeAsync(() => Task.FromResult(Libc.CpuTime(Libc.RUSAGE_THREAD))).Result;
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        var end = io.Context.InvokeAsync(() => Task.FromResult(Libc.CpuTime(Libc.RUSAGE_THREAD))).Result;
        double cpu = ((end.UserUs - start.UserUs) + (end.SystemUs - start.SystemUs)) / 1e6;
        Console.WriteLine(string.Create(s_inv, $"idle IoThread, polling on, {seconds:0} s: {cpu * 1000:0.000} ms CPU = {cpu / seconds * 100:0.000} % of a core"));
    }

    private static void Scalability(double seconds)
    {
        // A discarded warm-up (JIT, thread start), then alone, crowded, alone again: the mean of the two lone runs
        // absorbs drift.
        BusyRate(0, 1);
        double alone1 = BusyRate(0, seconds);
        double crowded = BusyRate(100, seconds);
        double alone2 = BusyRate(0, seconds);
        double alone = (alone1 + alone2) / 2;
        Console.WriteLine(string.Create(s_inv, $"busy handler alone: {alone1:0} and {alone2:0} events/s; beside 100 idle polled handlers (io_uring, idle removal): {crowded:0} events/s = {crowded / alone * 100:0.0} % of the mean"));
    }

    /// <summary>Round trips per second of one busy handler on an io_uring IoThread that also has <paramref name="idle"/> idle polled handlers.</summary>
    private static double BusyRate(int idle, double seconds)
    {
        using var pp = new PingPong(FdMonitorKind.IoUring, 32768);
        var idles = Enumerable.Range(0, idle).Select(_ => new EventNotifier()).ToArray();
        try
        {
            pp.A.InvokeAsync(() =>
            {
                // A short idle interval so the test need not wait 7 s.
                pp.A.PollIdleIntervalNs = 500_000_000;
                return Task.CompletedTask;
            }).Wait();
            foreach (var e in idles)
            {
                pp.A.SetEventNotifier(e, n => n.TestAndClear(), _ => false, n => n.TestAndClear());
                e.Set();   // dispatched once: joins the polling set, then idles
            }

            pp.Run(5000);
            Thread.Sleep(700);   // past the idle interval
            pp.Run(5000);
            int polled = pp.A.InvokeAsync(() => Task.FromResult(pp.A.PollingSetCount)).Result;
            Console.WriteLine(string.Create(s_inv, $"  {idle} idle handlers registered; polling set now holds {polled} handler(s)"));
            var sw = Stopwatch.StartNew();
            long trips = 0;
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                pp.Run(1000);
                trips += 1000;
            }

            return trips / sw.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var e in idles)
            {
                pp.A.SetEventNotifier(e, null);
                e.Dispose();
            }
        }
    }
}
