namespace Aio;

// The buffer's slot in one ring's registered buffer table (READ_FIXED/WRITE_FIXED).
public sealed unsafe partial class AlignedBuffer
{
    private const int NotRegistered = -1;
    private const int Refused = -2;

    // The context whose ring the buffer is registered with: claimed once, by the first loop that prepares a request
    // on it; loops of other contexts use it unregistered. Slot and generation are that loop's, written on its thread.
    private AioContext? _registeredWith;
    private int _registeredSlot = NotRegistered;
    private int _registeredGeneration;

    /// <summary>The buffer's slot in its context's registered buffer table; -1 none yet, -2 refused (tests).</summary>
    internal int RegisteredSlot => _registeredSlot;

    /// <summary>
    /// Home thread of <paramref name="context"/>, preparing a request on this (pinned) buffer: the slot of the buffer in
    /// the context's registered buffer table, registering it on first use. False when the buffer goes unregistered
    /// (claimed by another context, the kernel refused, the table is full, or the ring was replaced).
    /// </summary>
    internal bool TryGetRegisteredSlot(AioContext context, out ushort slot)
    {
        var owner = Volatile.Read(ref _registeredWith);
        if (owner is null)
        {
            // Once per buffer: whoever claims it first registers it.
            owner = Interlocked.CompareExchange(ref _registeredWith, context, null) ?? context;
            if (owner == context && _registeredSlot == NotRegistered)
            {
                Register(context);
            }
        }

        int registered = _registeredSlot;
        if (owner == context && registered >= 0 && context.RequestRing is { } ring && ring.FileTableGeneration == _registeredGeneration)
        {
            slot = (ushort)registered;
            return true;
        }

        slot = 0;
        return false;
    }

    private void Register(AioContext context)
    {
        if (context.RequestRing is not { } ring)
        {
            _registeredSlot = Refused;
            return;
        }

        _registeredGeneration = ring.FileTableGeneration;
        int slot = ring.TryRegisterBuffer((nint)_pointer, _length);
        _registeredSlot = slot >= 0 ? slot : Refused;
    }

    /// <summary>The memory was freed: the ring lets go of the slot (and of the pages it still pins) on its own thread.</summary>
    private void ReleaseRegistration()
    {
        var owner = Volatile.Read(ref _registeredWith);
        int slot = _registeredSlot;
        if (owner is null || slot < 0)
        {
            return;
        }

        int generation = _registeredGeneration;
        _registeredSlot = NotRegistered;
        Action release = null!;
        release = () =>
        {
            if (owner.RequestRing is { } ring && !ring.TryUnregisterBuffer(slot, generation))
            {
                // The kernel refused to take the SQ: again next iteration.
                _ = owner.TryScheduleOneShot(release, static () => { });
            }
        };

        // A disposed context took its ring, and the table with it.
        _ = owner.TryScheduleOneShot(release, static () => { });
    }
}
