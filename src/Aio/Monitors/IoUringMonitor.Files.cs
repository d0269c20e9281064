namespace Aio.Monitors;

/// <summary>
/// The ring's registered file table (IOSQE_FIXED_FILE): a request that names its file by slot skips the kernel's
/// fd-table lookup and the file's reference count pair, per request. Home thread only.
/// </summary>
internal sealed partial class IoUringMonitor
{
    /// <summary>Slots in the table (well under any RLIMIT_NOFILE; a context rarely has more files open).</summary>
    private const int FileTableSize = 256;

    private Stack<int>? _freeFileSlots;
    private bool _fileTableRefused;
    private int _fileTableGeneration;

    /// <summary>Changes when the ring is replaced (the outer-loop swap): slots of an older generation mean nothing.</summary>
    public int FileTableGeneration => _fileTableGeneration;

    public int TryRegisterFile(int fd)
    {
        if (_disposed || _fileTableRefused)
        {
            return -1;
        }

        EnsureEnabled();
        if (_freeFileSlots is null)
        {
            // Created on first use, so contexts without files pay nothing. A kernel that refuses (no sparse tables, a
            // tiny RLIMIT_NOFILE) is asked once; files then go by fd.
            if (_ring.RegisterSparseFiles(FileTableSize) < 0)
            {
                _fileTableRefused = true;
                return -1;
            }

            _freeFileSlots = new Stack<int>(FileTableSize);
            for (int slot = FileTableSize - 1; slot >= 0; slot--)
            {
                _freeFileSlots.Push(slot);
            }
        }

        if (!_freeFileSlots.TryPop(out int free))
        {
            return -1;
        }

        if (_ring.UpdateFile(free, fd) < 0)
        {
            _freeFileSlots.Push(free);
            return -1;
        }

        return free;
    }

    public bool TryUnregisterFile(int slot, int generation)
    {
        if (_disposed || generation != _fileTableGeneration || _freeFileSlots is null)
        {
            // The ring (and its table) is gone or was replaced: nothing of this slot is left.
            return true;
        }

        // A request in the SQ that names the slot resolves it only when submitted: hand the SQ to the kernel first.
        // Submitted requests keep the file they resolved, also once the slot is empty.
        if (_ring.SqReady != 0 && (_ring.TrySubmit() < 0 || _ring.SqReady != 0))
        {
            return false;
        }

        _ = _ring.UpdateFile(slot, -1);
        _freeFileSlots.Push(slot);
        return true;
    }

    /// <summary>The outer-loop swap replaced the ring: its table went with it.</summary>
    private void ForgetFileTable()
    {
        _freeFileSlots = null;
        _fileTableRefused = false;
        _fileTableGeneration++;
    }
}
