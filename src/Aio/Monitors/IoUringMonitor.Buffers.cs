namespace Aio.Monitors;

/// <summary>
/// The ring's registered buffer table (READ_FIXED/WRITE_FIXED): the kernel pins a registered buffer's pages once,
/// instead of on every request. Home thread only.
/// </summary>
internal sealed partial class IoUringMonitor
{
    /// <summary>Slots in the table (the kernel allows 16384; a loop rarely has more buffers in use at once).</summary>
    private const int BufferTableSize = 1024;

    private Stack<int>? _freeBufferSlots;
    private bool _bufferTableRefused;

    public int TryRegisterBuffer(nint address, int length)
    {
        if (_disposed || _bufferTableRefused || length <= 0)
        {
            return -1;
        }

        EnsureEnabled();
        if (_freeBufferSlots is null)
        {
            // Sparse tables need 5.19; a kernel that refuses is asked once, and buffers then go unregistered.
            if (_ring.RegisterSparseBuffers(BufferTableSize) < 0)
            {
                _bufferTableRefused = true;
                return -1;
            }

            _freeBufferSlots = new Stack<int>(BufferTableSize);
            for (int slot = BufferTableSize - 1; slot >= 0; slot--)
            {
                _freeBufferSlots.Push(slot);
            }
        }

        if (!_freeBufferSlots.TryPop(out int free))
        {
            return -1;
        }

        // ENOMEM: the pages would exceed RLIMIT_MEMLOCK (unprivileged users); that buffer then goes unregistered.
        if (_ring.UpdateBuffer(free, address, (nuint)length) < 0)
        {
            _freeBufferSlots.Push(free);
            return -1;
        }

        return free;
    }

    public bool TryUnregisterBuffer(int slot, int generation)
    {
        if (_disposed || generation != _fileTableGeneration || _freeBufferSlots is null)
        {
            return true;
        }

        // As for files: an entry in the SQ resolves its buffer only when submitted.
        if (_ring.SqReady != 0 && (_ring.TrySubmit() < 0 || _ring.SqReady != 0))
        {
            return false;
        }

        _ = _ring.UpdateBuffer(slot, 0, 0);
        _freeBufferSlots.Push(slot);
        return true;
    }

    /// <summary>The outer-loop swap replaced the ring: its buffer table went with it.</summary>
    private void ForgetBufferTable()
    {
        _freeBufferSlots = null;
        _bufferTableRefused = false;
    }
}
