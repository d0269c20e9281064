using Aio.GLib.Interop;

namespace Aio.GLib;

/// <summary>Attaches an <see cref="AioContext"/> to a real GLib <c>GMainContext</c> through libglib-2.0.so.0.</summary>
public static class GLibIntegration
{
    /// <summary>
    /// Creates a GSource whose prepare/check/dispatch are the context's <see cref="AioSource"/>, watching
    /// <see cref="AioSource.Fds"/> with g_source_add_unix_fd, and attaches it to <paramref name="gMainContext"/>
    /// (0: the default main context). The thread that iterates that GLib context becomes the context's home thread.
    /// Returns a handle whose Dispose detaches and destroys the source.
    /// </summary>
    /// <exception cref="DllNotFoundException">libglib-2.0.so.0 is not installed.</exception>
    public static unsafe IDisposable Attach(AioContext ctx, nint gMainContext = 0)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ObjectDisposedException.ThrowIf(ctx.IsDisposed, ctx);
        nint source = GLib.Interop.GLib.SourceNew(SourceCallbacks.Funcs, 128);
        var attachment = new GLibAttachment(ctx, source);
        try
        {
            SourceCallbacks.Register(source, attachment);
            GLib.Interop.GLib.SourceSetName(source, "aio:" + ctx.Name);

            // A callback may iterate GLib again (a nested loop); GLib then may call this source recursively.
            GLib.Interop.GLib.SourceSetCanRecurse(source, 1);
            attachment.SyncFds();
            GLib.Interop.GLib.SourceAttach(source, gMainContext);
        }
        catch
        {
            // The context was disposed under the call, say: the source (and its entry in the callbacks' table, removed
            // by its finalize) must not outlive the failed attach.
            attachment.Dispose();
            throw;
        }

        return attachment;
    }
}
