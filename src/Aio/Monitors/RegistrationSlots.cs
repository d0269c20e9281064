namespace Aio.Monitors;

/// <summary>
/// The free slots of one of the ring's registration tables (files, buffers): the table is registered with the kernel on
/// first use, and a kernel that refuses it is asked once. Home thread only.
/// </summary>
internal sealed class RegistrationSlots(int size)
{
    private Stack<int>? _free;
    private bool _refused;

    /// <summary>Whether the table exists (slots handed out by it mean something).</summary>
    public bool IsRegistered => _free is not null;

    /// <summary>
    /// A free slot, registering the table through <paramref name="registerTable"/> (0 or a negative errno) on first use.
    /// -1 when the kernel refused the table or every slot is taken.
    /// </summary>
    public int TryTake(Func<int, int> registerTable)
    {
        if (_refused)
        {
            return -1;
        }

        if (_free is null)
        {
            if (registerTable(size) < 0)
            {
                _refused = true;
                return -1;
            }

            _free = new Stack<int>(size);
            for (int slot = size - 1; slot >= 0; slot--)
            {
                _free.Push(slot);
            }
        }

        return _free.TryPop(out int free) ? free : -1;
    }

    /// <summary>Gives a slot back (it was never filled, or it has been emptied).</summary>
    public void Return(int slot) => _free?.Push(slot);

    /// <summary>The ring was replaced: its table went with it; the next use registers one on the new ring.</summary>
    public void Forget()
    {
        _free = null;
        _refused = false;
    }
}
