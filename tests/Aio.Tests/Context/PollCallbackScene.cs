using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// A context with one busy-polled handler whose poll callback never finds anything and runs a given action once, the
/// next time it is polled: user code between the iteration's timeout (step 1) and its sleep (step 3).
/// </summary>
internal sealed class PollCallbackScene : IDisposable
{
    private readonly EventNotifier _notifier = new();
    private Action? _next;
    private int _reads;
    private int _polls;

    public PollCallbackScene(FdMonitorKind kind)
    {
        Context = MonitorKinds.Create(kind, pollMaxNs: 10_000_000);
        Context.SetEventNotifier(
            _notifier,
            e =>
            {
                e.TestAndClear();
                _reads++;
            },
            _ =>
            {
                _polls++;
                if (_next is { } action)
                {
                    _next = null;
                    action();
                    ActionRuns++;
                }

                return false;
            });

        // A dispatch with a short block gives the handler a polling window; a wait for a timer then busy-polls it
        // before it sleeps. Stop once it was polled: the window is there for the iteration a test runs next.
        using var tick = Context.CreateTimer(AioClock.Monotonic, () => { });
        for (int i = 0; _polls == 0; i++)
        {
            Assert.True(i < 1_000, "the handler never got a polling window");
            _notifier.Set();
            LoopDriver.PollUntil(Context, () => _reads == i + 1, "the read handler");
            tick.ArmAfter(TimeSpan.FromMilliseconds(0.2));
            LoopDriver.PollBlockingBounded(Context, "the tick");
        }
    }

    public AioContext Context { get; }

    /// <summary>How many actions given to <see cref="OnNextPoll"/> ran.</summary>
    public int ActionRuns { get; private set; }

    /// <summary>Runs <paramref name="action"/> inside the poll callback, the next time it is polled.</summary>
    public void OnNextPoll(Action action) => _next = action;

    public void Dispose()
    {
        Context.SetEventNotifier(_notifier, null);
        Context.Dispose();
        _notifier.Dispose();
    }
}
