using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Aio.GLib.Interop;

/// <summary>
/// The native entry points GLib calls. Exceptions must not cross into native frames (the process would die), so each
/// callback catches and reports through the attachment. Sources are found by their GSource pointer, which keeps this
/// independent of sizeof(GSource).
/// </summary>
internal static unsafe class SourceCallbacks
{
    private static readonly ConcurrentDictionary<nint, GLibAttachment> s_sources = new();
    private static nint s_funcs;

    /// <summary>The one GSourceFuncs table, in native memory for the life of the process (GLib keeps the pointer).</summary>
    public static GSourceFuncs* Funcs
    {
        get
        {
            if (s_funcs == 0)
            {
                var funcs = (GSourceFuncs*)NativeMemory.AllocZeroed((nuint)sizeof(GSourceFuncs));
                funcs->Prepare = &Prepare;
                funcs->Check = &Check;
                funcs->Dispatch = &Dispatch;
                funcs->Finalize = &Finalize;
                if (Interlocked.CompareExchange(ref s_funcs, (nint)funcs, 0) != 0)
                {
                    NativeMemory.Free(funcs);
                }
            }

            return (GSourceFuncs*)s_funcs;
        }
    }

    public static void Register(nint source, GLibAttachment attachment) => s_sources[source] = attachment;

    [UnmanagedCallersOnly]
    private static int Prepare(nint source, int* timeout)
    {
        *timeout = -1;
        if (!s_sources.TryGetValue(source, out var a))
        {
            return 0;
        }

        try
        {
            bool ready = a.Prepare(out int ms);
            *timeout = ms;
            return ready ? 1 : 0;
        }
        catch (InvalidOperationException ex) when (a.IsWrongThread(ex))
        {
            // The wrong thread: it would recur on every iteration. (Not any InvalidOperationException: Prepare also runs
            // the preparers of requests added from other threads, whose exceptions are theirs, and one of them must not
            // switch the source off for good.)
            a.Abandon(ex);
            *timeout = -1;
            return 0;
        }
        catch (ObjectDisposedException) when (a.IsContextDisposed)
        {
            // Disposed on another thread between GLib's phases: the next Prepare takes the fds away.
            *timeout = -1;
            return 0;
        }
        catch (Exception ex)
        {
            a.Report(ex);
            *timeout = 0;
            return 0;
        }
    }

    [UnmanagedCallersOnly]
    private static int Check(nint source)
    {
        if (!s_sources.TryGetValue(source, out var a))
        {
            return 0;
        }

        try
        {
            return a.Check() ? 1 : 0;
        }
        catch (InvalidOperationException ex) when (a.IsWrongThread(ex))
        {
            a.Abandon(ex);
            return 0;
        }
        catch (ObjectDisposedException) when (a.IsContextDisposed)
        {
            return 0;
        }
        catch (Exception ex)
        {
            a.Report(ex);
            return 0;
        }
    }

    [UnmanagedCallersOnly]
    private static int Dispatch(nint source, nint callback, nint userData)
    {
        if (s_sources.TryGetValue(source, out var a))
        {
            try
            {
                a.Dispatch();
            }
            catch (Exception ex)
            {
                a.Report(ex);
            }
        }

        return 1;   // G_SOURCE_CONTINUE
    }

    [UnmanagedCallersOnly]
    private static void Finalize(nint source) => s_sources.TryRemove(source, out _);
}
