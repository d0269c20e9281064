using Aio.GLib;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.GLib;

/// <summary>
/// A context GLib cannot drive (it belongs to another thread: here an IoThread's) is reported once, and its source goes
/// quiet: before, every prepare and check threw again and the failed prepare asked GLib for a 0 ms timeout, so the
/// main loop spun, reporting twice per iteration.
/// </summary>
public sealed class GLibWrongThreadTests
{
    [Fact]
    public void A_context_of_another_thread_is_reported_once_and_its_source_watches_nothing()
    {
        using var io = IoThread.Start("glib-wrong-thread");
        nint gmain = Aio.GLib.Interop.GLib.MainContextNew();
        try
        {
            using var attachment = (GLibAttachment)GLibIntegration.Attach(io.Context, gmain);
            var reports = new List<Exception>();
            attachment.CallbackException += ex =>
            {
                lock (reports)
                {
                    reports.Add(ex);
                }
            };

            for (int i = 0; i < 5; i++)
            {
                Aio.GLib.Interop.GLib.MainContextIteration(gmain, 0);
            }

            var report = Assert.Single(reports);
            Assert.IsType<InvalidOperationException>(report.InnerException);

            // Quiet: no fds watched, never ready, so a non-blocking iteration dispatches nothing.
            Assert.Equal(0, Aio.GLib.Interop.GLib.MainContextIteration(gmain, 0));
        }
        finally
        {
            Aio.GLib.Interop.GLib.MainContextUnref(gmain);
        }
    }

    [IoUringFact]
    public void An_InvalidOperationException_of_a_foreign_requests_preparer_is_reported_and_the_source_serves_on()
    {
        // The preparer of a request added from another thread runs in the source's Prepare, on the home thread. Its
        // InvalidOperationException once passed for the wrong-thread one, and the source went inert for good.
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "glib-preparer-throws" });
        using var outer = new OuterDriver(ctx, glib: true);
        var reports = new List<Exception>();
        outer.Attachment!.CallbackException += ex =>
        {
            lock (reports)
            {
                reports.Add(ex);
            }
        };
        outer.Iterate(false);

        var failure = new InvalidOperationException("the preparer's own failure");
        Task.Run(() => ctx.AddSqe(static (ref Sqe _, InvalidOperationException f) => throw f, failure, new IgnoringHandler())).Wait(Wait.Default);
        outer.IterateUntil(() => { lock (reports) { return reports.Count > 0; } }, "the preparer's failure to be reported");

        bool ran = false;
        Task.Run(() => ctx.ScheduleOneShot(() => ran = true)).Wait(Wait.Default);
        outer.IterateUntil(() => ran, "a bottom half scheduled from another thread after the failure");
        lock (reports)
        {
            Assert.Same(failure, Assert.Single(reports));
        }
    }

    private sealed class IgnoringHandler : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe)
        {
        }
    }
}
