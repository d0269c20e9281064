namespace Aio.TestHelper;

/// <summary>
/// The child process of the tests that need a process of their own: a seccomp filter (the fallback tests) or real
/// syscall faults injected by strace (tests/Aio.Tests/FaultInjection). The first argument names the scenario, the
/// rest are its parameters. Prints "OK: ..." per check that held and "FAIL: ..." per check that did not (see
/// <see cref="Report"/>), and exits 0 only if nothing failed.
/// </summary>
internal static class Program
{
    /// <summary>Well under the tests' 20 s child timeout, so that a hang reports itself.</summary>
    private static readonly TimeSpan s_watchdog = TimeSpan.FromSeconds(12);

    private static readonly Dictionary<string, Action<string[]>> s_scenarios = new(StringComparer.Ordinal)
    {
        ["fallback"] = _ => SeccompScenarios.Fallback(),
        ["all-or-none"] = _ => SeccompScenarios.AllOrNone(),
        ["explicit"] = _ => SeccompScenarios.Explicit(),
        ["setup-fallback"] = a => SetupFaultScenarios.AutoFallsBack(Errnos.Parse(a[0])),
        ["setup-explicit"] = a => SetupFaultScenarios.ExplicitThrows(Errnos.Parse(a[0])),
        ["eventfd-create"] = a => EventFdFaultScenarios.CreateThrowsThenRecovers(Errnos.Parse(a[0])),
        ["eventfd-notifier"] = a => EventFdFaultScenarios.NotifierThrowsThenRecovers(Errnos.Parse(a[0])),
        ["epoll-explicit"] = a => EpollFaultScenarios.ExplicitThrows("epoll_create1", Errnos.Parse(a[0])),
        ["epoll-upgrade"] = _ => EpollFaultScenarios.UpgradeFailureStaysOnPoll(),
        ["epoll-ctl-explicit"] = a => EpollFaultScenarios.ExplicitThrows("epoll_ctl", Errnos.Parse(a[0])),
        ["enter-eintr"] = _ => EnterFaultScenarios.InterruptedRequestsCompleteOnce(),
        ["enter-eintr-timer"] = _ => EnterFaultScenarios.InterruptedWaitsHonourTimers(),
        ["enter-backpressure"] = a => BackPressureScenarios.FullRingBurst(Errnos.Parse(a[0])),
        ["enter-enomem"] = _ => BackPressureScenarios.OutOfMemory(),
        ["register-enable"] = a => RegisterFaultScenarios.EnableFailsOnce(Errnos.Parse(a[0])),
        ["net-fallback"] = _ => NetScenarios.FallbackEcho(),
        ["threads-engine-hold"] = _ => BlockScenarios.ThreadsEngineHoldsBufferAndFile(),
        ["threads-short-direct-write"] = a => BlockScenarios.ThreadsEngineShortDirectWrite(a[0]),
        ["fallocate-ring"] = a => BlockScenarios.FallocateOnTheRingMakesNoSyscall(a[0]),
        ["outer-swap-refused"] = _ => OuterSwapFaultScenarios.SwapRefused(),
    };

    private static int Main(string[] args)
    {
        string scenario = args.FirstOrDefault() ?? string.Empty;
        if (scenario.StartsWith("ring-", StringComparison.Ordinal))
        {
            // The ring scenarios report and pick their exit code themselves.
            return RingScenarios.Run(scenario);
        }

        if (!s_scenarios.TryGetValue(scenario, out var run))
        {
            Report.Fail($"unknown scenario '{string.Join(' ', args)}'");
            return 1;
        }

        using (new Watchdog(s_watchdog, () => Progress.Current))
        {
            try
            {
                run(args[1..]);
            }
            catch (Exception ex)
            {
                Report.Fail($"{scenario} threw {ex}");
            }
        }

        return Report.ExitCode;
    }
}
