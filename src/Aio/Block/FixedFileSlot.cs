using Microsoft.Win32.SafeHandles;

namespace Aio.Block;

/// <summary>
/// A BlockFile's slot in its context's registered file table: requests prepared while the slot is live name the file
/// by slot (IOSQE_FIXED_FILE), which spares the kernel an fd-table lookup and a reference count pair per request.
/// </summary>
/// <remarks>
/// Registration and release run on the home thread (a one-shot when asked from elsewhere), the only thread that fills
/// the SQ and reaps the CQ: <see cref="TryGet"/>, read while preparing an entry, and the count of requests that name
/// the slot need no synchronisation. Until registration has run, and once the slot is released or the ring replaced,
/// requests use the fd. The slot goes back only when no request that names it is in flight: the kernel looks a fixed
/// file up when it issues the request, which for a request deferred behind an IOSQE_IO_DRAIN (or punted to a worker)
/// is long after submission, and a slot handed to the next file meanwhile would send the write there. The file's own
/// reference counting (every request holds the SafeHandle) is unchanged, so the fd stays valid for any request that
/// falls back to it.
/// </remarks>
internal sealed class FixedFileSlot
{
    private readonly AioContext _context;
    private readonly SafeFileHandle _handle;
    private int _slot = -1;
    private int _generation;
    private bool _released;
    // Requests prepared with the slot whose completions have not come back (home thread).
    private int _inFlight;

    private FixedFileSlot(AioContext context, SafeFileHandle handle)
    {
        _context = context;
        _handle = handle;
    }

    /// <summary>Asks for a slot for <paramref name="handle"/> on <paramref name="context"/>'s ring (any thread).</summary>
    public static FixedFileSlot Register(AioContext context, SafeFileHandle handle)
    {
        var slot = new FixedFileSlot(context, handle);
        slot.OnLoop(slot.RegisterOnLoop);
        return slot;
    }

    /// <summary>Home thread, preparing an entry: the slot to name the file by, if it is live on the current ring.</summary>
    public bool TryGet(out int slot)
    {
        slot = _slot;
        if (slot >= 0 && _context.RequestRing is { } ring && ring.FileTableGeneration == _generation)
        {
            return true;
        }

        slot = -1;
        return false;
    }

    /// <summary>Home thread: a request was prepared with the slot <see cref="TryGet"/> gave.</summary>
    public void OnRequestPrepared() => _inFlight++;

    /// <summary>Home thread: the completion of a request <see cref="OnRequestPrepared"/> counted.</summary>
    public void OnRequestCompleted()
    {
        if (--_inFlight == 0 && _released && _slot >= 0)
        {
            ReleaseOnLoop();
        }
    }

    /// <summary>Gives the slot back once no request names it (any thread; the BlockFile is being disposed).</summary>
    public void Release() => OnLoop(ReleaseOnLoop);

    private void OnLoop(Action action)
    {
        // A section: a Dispose from another thread must not unmap the ring while the action registers or empties the
        // slot (false: the context was disposed first, and has no ring left to touch).
        if (_context.IsOnHomeThread && _context.RequestRing is { IsBound: true })
        {
            _ = _context.TryRunAsSection(action);
            return;
        }

        // Once the context is disposed there is no ring and nothing to release.
        _ = _context.TryScheduleOneShot(action, static () => { });
    }

    private void RegisterOnLoop()
    {
        if (_released || _context.RequestRing is not { } ring)
        {
            return;
        }

        bool added = false;
        try
        {
            // The fd must not be closed (and its number reused) while the kernel looks it up.
            _handle.DangerousAddRef(ref added);
            _generation = ring.FileTableGeneration;
            _slot = ring.TryRegisterFile((int)_handle.DangerousGetHandle());
        }
        catch (ObjectDisposedException)
        {
            // Disposed before the loop got here: the release that follows finds no slot.
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    private void ReleaseOnLoop()
    {
        _released = true;
        if (_slot < 0 || _inFlight > 0 || _context.RequestRing is not { } ring)
        {
            // With requests in flight, the last one's completion gives the slot back.
            return;
        }

        if (!ring.TryUnregisterFile(_slot, _generation))
        {
            // The kernel refused to take the SQ: try again next iteration, the slot stays live meanwhile.
            _ = _context.TryScheduleOneShot(ReleaseOnLoop, static () => { });
            return;
        }

        _slot = -1;
    }
}
