namespace Aio.Monitors;

/// <summary>
/// The ring's registered file and buffer tables: a request that names its file by slot (IOSQE_FIXED_FILE) skips the
/// kernel's fd-table lookup and the file's reference count pair, and a registered buffer (READ_FIXED/WRITE_FIXED) has
/// its pages pinned once instead of on every request. Home thread only.
/// </summary>
internal sealed partial class IoUringMonitor
{
    /// <summary>File slots (well under any RLIMIT_NOFILE; a context rarely has more files open).</summary>
    private const int FileTableSize = 256;

    /// <summary>Buffer slots (the kernel allows 16384; a loop rarely has more buffers in use at once).</summary>
    private const int BufferTableSize = 1024;

    private readonly RegistrationSlots _fileSlots = new(FileTableSize);
    private readonly RegistrationSlots _bufferSlots = new(BufferTableSize);
    private int _tableGeneration;

    /// <summary>Changes when the ring is replaced (the outer-loop swap): slots of an older generation mean nothing.</summary>
    public int FileTableGeneration => _tableGeneration;

    public int TryRegisterFile(int fd)
    {
        if (_disposed)
        {
            return -1;
        }

        // Created on first use (IORING_REGISTER_FILES2 of empty entries), so contexts without files pay nothing; files a
        // kernel will not take go by fd.
        EnsureEnabled();
        return Fill(_fileSlots, _ring.RegisterSparseFiles, slot => _ring.UpdateFile(slot, fd));
    }

    public bool TryUnregisterFile(int slot, int generation)
        => Empty(_fileSlots, slot, generation, s => _ring.UpdateFile(s, -1));

    public int TryRegisterBuffer(nint address, int length)
    {
        if (_disposed || length <= 0)
        {
            return -1;
        }

        // Sparse buffer tables need 5.19. A buffer the kernel will not take (ENOMEM: its pages would exceed
        // RLIMIT_MEMLOCK, for unprivileged users) goes unregistered.
        EnsureEnabled();
        return Fill(_bufferSlots, _ring.RegisterSparseBuffers, slot => _ring.UpdateBuffer(slot, address, (nuint)length));
    }

    public bool TryUnregisterBuffer(int slot, int generation)
        => Empty(_bufferSlots, slot, generation, s => _ring.UpdateBuffer(s, 0, 0));

    /// <summary>The outer-loop swap replaced the ring: its tables went with it.</summary>
    private void ForgetRegistrationTables()
    {
        _fileSlots.Forget();
        _bufferSlots.Forget();
        _tableGeneration++;
    }

    private static int Fill(RegistrationSlots slots, Func<int, int> registerTable, Func<int, int> update)
    {
        int slot = slots.TryTake(registerTable);
        if (slot >= 0 && update(slot) < 0)
        {
            slots.Return(slot);
            return -1;
        }

        return slot;
    }

    private bool Empty(RegistrationSlots slots, int slot, int generation, Func<int, int> clear)
    {
        if (_disposed || generation != _tableGeneration || !slots.IsRegistered)
        {
            // The ring (and its table) is gone or was replaced: nothing of this slot is left.
            return true;
        }

        // A request in the SQ that names the slot resolves it only when issued: hand the SQ to the kernel first. That
        // is not enough on its own (a request deferred behind a drain, or punted to a worker, looks its file up later
        // still), so the owners empty a slot only once no request that names it is in flight: a file's slot after its
        // requests' completions (FixedFileSlot), a buffer's after its last pin.
        if (_ring.SqReady != 0 && (_ring.TrySubmit() < 0 || _ring.SqReady != 0))
        {
            return false;
        }

        _ = clear(slot);
        slots.Return(slot);
        return true;
    }
}
