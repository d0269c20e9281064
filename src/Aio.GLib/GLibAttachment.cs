using Aio.GLib.Interop;

namespace Aio.GLib;

/// <summary>
/// A context attached to a GLib main context as a GSource. Dispose detaches and destroys the source; callbacks that are
/// pending in GLib's current iteration then find it gone and do nothing.
/// </summary>
public sealed class GLibAttachment : IDisposable
{
    private readonly AioContext _context;
    private readonly Dictionary<int, (nint Tag, PollEvents Events)> _tags = [];
    private nint _source;
    private bool _abandoned;

    internal GLibAttachment(AioContext context, nint source)
    {
        _context = context;
        _source = source;
    }

    /// <summary>
    /// A callback threw while GLib was driving the context. The exception cannot travel through GLib's native frames;
    /// it is reported here (or on standard error when nobody listens) and the loop keeps running.
    /// </summary>
    public event Action<Exception>? CallbackException;

    /// <summary>The GSource pointer (for g_source_* calls of your own).</summary>
    public nint Source => _source;

    /// <summary>Destroys the GSource and detaches the context. Call it on the thread that iterates GLib, or when GLib is idle.</summary>
    public void Dispose()
    {
        nint source = Interlocked.Exchange(ref _source, 0);
        if (source == 0)
        {
            return;
        }

        GLib.Interop.GLib.SourceDestroy(source);
        GLib.Interop.GLib.SourceUnref(source);
    }

    internal bool Prepare(out int timeoutMs)
    {
        if (_source == 0 || _context.IsDisposed || _abandoned)
        {
            // The context's fds are closed (or about to be reused): GLib must stop polling them.
            RemoveAllFds();
            timeoutMs = -1;
            return false;
        }

        bool ready = _context.Source.Prepare(out timeoutMs);
        SyncFds();
        return ready;
    }

    internal bool Check() => _source != 0 && !_context.IsDisposed && !_abandoned && _context.Source.Check();

    /// <summary>
    /// GLib iterates this source on a thread that is not the context's home thread (the context belongs to an IoThread,
    /// or was polled elsewhere first): every prepare and check would throw again, and a prepare that fails asks GLib for
    /// a 0 ms timeout, so the main loop would spin reporting it. Reported once; the source then watches nothing, asks
    /// for no timeout and is never ready, until it is disposed.
    /// </summary>
    internal bool IsWrongThread(InvalidOperationException ex) => ex is not ObjectDisposedException && !_context.IsOnHomeThread;

    internal bool IsContextDisposed => _context.IsDisposed;

    internal void Abandon(InvalidOperationException wrongThread)
    {
        if (_abandoned)
        {
            return;
        }

        _abandoned = true;
        RemoveAllFds();
        Report(new InvalidOperationException(
            $"GLib iterates the source of context '{_context.Name}' on a thread that is not the context's home thread; the source is inert from now on.", wrongThread));
    }

    internal void Dispatch()
    {
        if (_source != 0 && !_context.IsDisposed)
        {
            _context.Source.Dispatch();
        }
    }

    internal void Report(Exception ex)
    {
        if (CallbackException is not { } handlers)
        {
            Console.Error.WriteLine($"Aio.GLib: a callback of context '{_context.Name}' threw: {ex}");
            return;
        }

        // Called from GLib's native frames: an exception escaping a subscriber would cross them and end the process.
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((Action<Exception>)handler)(ex);
            }
            catch (Exception handlerFailure)
            {
                Console.Error.WriteLine($"Aio.GLib: a CallbackException handler of context '{_context.Name}' threw: {handlerFailure}");
            }
        }
    }

    private void RemoveAllFds()
    {
        if (_source == 0)
        {
            _tags.Clear();
            return;
        }

        foreach (var (tag, _) in _tags.Values)
        {
            GLib.Interop.GLib.SourceRemoveUnixFd(_source, tag);
        }

        _tags.Clear();
    }

    /// <summary>Keeps GLib's unix fds equal to <see cref="AioSource.Fds"/> (on the iterating thread).</summary>
    internal void SyncFds()
    {
        var fds = _context.Source.Fds;
        var wanted = new HashSet<int>();
        foreach (var fd in fds)
        {
            wanted.Add(fd.Fd);
            if (!_tags.TryGetValue(fd.Fd, out var known))
            {
                _tags[fd.Fd] = (GLib.Interop.GLib.SourceAddUnixFd(_source, fd.Fd, (uint)(ushort)fd.Events), fd.Events);
            }
            else if (known.Events != fd.Events)
            {
                GLib.Interop.GLib.SourceModifyUnixFd(_source, known.Tag, (uint)(ushort)fd.Events);
                _tags[fd.Fd] = (known.Tag, fd.Events);
            }
        }

        if (_tags.Count == wanted.Count)
        {
            return;
        }

        foreach (var (fd, known) in _tags.ToArray())
        {
            if (!wanted.Contains(fd))
            {
                GLib.Interop.GLib.SourceRemoveUnixFd(_source, known.Tag);
                _tags.Remove(fd);
            }
        }
    }
}
