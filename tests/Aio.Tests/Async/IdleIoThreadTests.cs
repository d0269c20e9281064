using System.Globalization;
using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// An IoThread with nothing to do must sleep in the kernel: no periodic wake-up, no spinning (an idle loop costs a
/// core's fraction on every machine that runs one per service). The window below is the observation itself, not
/// synchronisation: the thread's own CPU time (schedstat, in ns) and voluntary context switches are read before and
/// after it, so load on the machine from other processes cannot make the test pass or fail.
/// </summary>
public class IdleIoThreadTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task An_idle_IoThread_uses_under_one_percent_of_a_core_and_does_not_wake(FdMonitorKind kind)
    {
        using var io = IoThread.Start("idle-" + kind, new AioContextOptions { Monitor = kind });

        // Some work first, so that whatever the loop does after work (adaptive polling, the ring's first submissions)
        // has happened before the window starts.
        for (int i = 0; i < 100; i++)
        {
            await io.Context.InvokeAsync(static () => Task.CompletedTask).WaitAsync(Wait.Default);
        }

        int tid = await io.Context.InvokeAsync(static () => Task.FromResult(Libc.GetTid())).WaitAsync(Wait.Default);
        var before = Read(tid);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = Read(tid);

        long cpuNs = after.CpuNs - before.CpuNs;
        long wakeUps = after.Voluntary - before.Voluntary;
        Assert.True(cpuNs < 10_000_000, $"the idle loop used {cpuNs / 1e6:0.###} ms of CPU in 1 s (1 % is 10 ms)");
        Assert.True(wakeUps <= 2, $"the idle loop slept and woke {wakeUps} times in 1 s");
    }

    private static (long CpuNs, long Voluntary) Read(int tid)
    {
        string task = $"/proc/self/task/{tid}";
        long cpu = long.Parse(File.ReadAllText($"{task}/schedstat").Split(' ')[0], CultureInfo.InvariantCulture);
        string line = File.ReadLines($"{task}/status").First(l => l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal));
        long voluntary = long.Parse(line.Split(':')[1].Trim(), CultureInfo.InvariantCulture);
        return (cpu, voluntary);
    }
}
