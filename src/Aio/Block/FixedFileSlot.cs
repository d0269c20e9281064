using Microsoft.Win32.SafeHandles;

namespace Aio.Block;

/// <summary>
/// A BlockFile's slot in its context's registered file table: requests prepared while the slot is live name the file
/// by slot (IOSQE_FIXED_FILE), which spares the kernel an fd-table lookup and a reference count pair per request.
/// </summary>
/// <remarks>
/// Registration and release run on the home thread (a one-shot when asked from elsewhere), the only thread that fills
/// the SQ: <see cref="TryGet"/>, read while preparing an entry, needs no synchronisation. Until registration has run,
/// and once the slot is released or the ring replaced, requests use the fd; a request already submitted keeps the
/// file it resolved. The file's own reference counting (every request holds the SafeHandle) is unchanged, so the fd
/// stays valid for any request that falls back to it.
/// </remarks>
internal sealed class FixedFileSlot
{
    private readonly AioContext _context;
    private readonly SafeFileHandle _handle;
    private int _slot = -1;
    private int _generation;
    private bool _released;

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

    /// <summary>Gives the slot back (any thread; the BlockFile is being disposed).</summary>
    public void Release() => OnLoop(ReleaseOnLoop);

    private void OnLoop(Action action)
    {
        if (_context.IsOnHomeThread && _context.RequestRing is { IsBound: true })
        {
            action();
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
        if (_slot < 0 || _context.RequestRing is not { } ring)
        {
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
