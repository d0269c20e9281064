namespace Aio.TestHelper;

/// <summary>
/// Ends a hung scenario with a FAIL line that says what it was doing, well before the test's own timeout kills the
/// process tree (which would only report "did not finish").
/// </summary>
internal sealed class Watchdog : IDisposable
{
    private readonly ManualResetEventSlim _done = new();
    private readonly Thread _thread;

    public Watchdog(TimeSpan limit, Func<string> state)
    {
        _thread = new Thread(() =>
        {
            if (!_done.Wait(limit))
            {
                Report.Fail($"watchdog: the scenario did not finish within {limit.TotalSeconds:0.#} s (a hang); last state: {state()}");
                Environment.Exit(1);
            }
        })
        {
            IsBackground = true,
            Name = "watchdog",
        };
        _thread.Start();
    }

    public void Dispose() => _done.Set();
}
