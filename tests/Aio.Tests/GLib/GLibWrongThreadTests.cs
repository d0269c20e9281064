using Aio.GLib;
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
}
