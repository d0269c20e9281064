using Aio.GLib;
using Xunit;

namespace Aio.Tests.Support;

/// <summary>Drives a context from an outer main loop: the plain ppoll loop of the tests, or a real GLib main context.</summary>
public sealed class OuterDriver : IDisposable
{
    private readonly AioContext _ctx;
    private readonly nint _gmain;
    private IDisposable? _attachment;

    public OuterDriver(AioContext ctx, bool glib)
    {
        _ctx = ctx;
        if (glib)
        {
            _gmain = Aio.GLib.Interop.GLib.MainContextNew();
            _attachment = GLibIntegration.Attach(ctx, _gmain);
        }
    }

    public bool IsGLib => _gmain != 0;

    public GLibAttachment? Attachment => _attachment as GLibAttachment;

    /// <summary>One iteration; a blocking one is bounded by a watchdog that fails the test.</summary>
    public bool Iterate(bool mayBlock)
    {
        if (!mayBlock)
        {
            return IterateOnce(false);
        }

        bool fired = false;
        using var watchdog = new Timer(_ =>
        {
            fired = true;
            LoopDriver.SafeNotify(_ctx);
            if (_gmain != 0)
            {
                Aio.GLib.Interop.GLib.MainContextWakeup(_gmain);
            }
        }, null, Wait.Default, TimeSpan.FromMilliseconds(100));
        bool result = IterateOnce(true);
        Assert.False(fired, "a blocking outer-loop iteration did not return within the time limit");
        return result;
    }

    /// <summary>Iterates (non-blocking) until an iteration dispatches nothing; bounded.</summary>
    public int IterateUntilIdle()
    {
        int n = 0;
        while (Iterate(false))
        {
            Assert.True(++n < 10_000, "the outer loop never became idle");
        }

        return n;
    }

    /// <summary>Iterates (blocking) until <paramref name="condition"/> holds; bounded.</summary>
    public void IterateUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait.Default;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out iterating the outer loop for {what}");
            Iterate(true);
        }
    }

    public void Detach()
    {
        _attachment?.Dispose();
        _attachment = null;
    }

    public void Dispose()
    {
        Detach();
        if (_gmain != 0)
        {
            // Let GLib run the finalizers of destroyed sources, then drop the context.
            while (Aio.GLib.Interop.GLib.MainContextIteration(_gmain, 0) != 0)
            {
            }

            Aio.GLib.Interop.GLib.MainContextUnref(_gmain);
        }
    }

    private bool IterateOnce(bool mayBlock)
        => _gmain != 0
            ? Aio.GLib.Interop.GLib.MainContextIteration(_gmain, mayBlock ? 1 : 0) != 0
            : PollOuterLoop.Iterate(_ctx, mayBlock, (long)(Wait.Default + TimeSpan.FromSeconds(1)).TotalNanoseconds);
}
