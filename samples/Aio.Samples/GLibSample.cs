using System.Runtime.InteropServices;
using Aio;
using Aio.GLib;

namespace AioSamples;

/// <summary>An Aio context attached to GLib's default main context and driven by GLib's own iteration.</summary>
internal static class GLibSample
{
    public static void Run()
    {
        using var ctx = AioContext.Create();
        using var attached = GLibIntegration.Attach(ctx);        // 0 = the default GMainContext

        bool fired = false;
        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => fired = true);
        timer.ArmAfter(TimeSpan.FromMilliseconds(10));           // GLib's sleep is bounded by Aio's timers
        while (!fired)
        {
            g_main_context_iteration(0, mayBlock: 1);            // this thread is now the context's home thread
        }

        Console.WriteLine("glib: Aio timer fired inside g_main_context_iteration");

        if (ctx.HasIoUring)
        {
            var nop = ctx.SubmitAsync(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0);
            while (!nop.IsCompleted)
            {
                g_main_context_iteration(0, mayBlock: 1);
            }

            Console.WriteLine($"glib: io_uring NOP completed under GLib with {nop.GetAwaiter().GetResult()}");
        }
    }

    // GLib's own loop; a real application calls g_main_loop_run or its toolkit's equivalent.
    [DllImport("libglib-2.0.so.0")]
    private static extern int g_main_context_iteration(nint context, int mayBlock);
}
