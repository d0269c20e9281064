namespace Aio.Net;

/// <summary>
/// Received data a socket holds in provided buffers until its reader asks for it: (buffer id, offset, length)
/// entries in arrival order, in a growable circular array. Loop thread.
/// </summary>
internal sealed class ReceiveQueue
{
    private Entry[] _entries = new Entry[8];
    private int _head;

    public int Count { get; private set; }

    public bool IsEmpty => Count == 0;

    public void Enqueue(ushort id, int length)
    {
        if (Count == _entries.Length)
        {
            var larger = new Entry[_entries.Length * 2];
            for (int i = 0; i < Count; i++)
            {
                larger[i] = _entries[(_head + i) & (_entries.Length - 1)];
            }

            _entries = larger;
            _head = 0;
        }

        _entries[(_head + Count) & (_entries.Length - 1)] = new Entry(id, 0, length);
        Count++;
    }

    /// <summary>The oldest entry.</summary>
    public ref Entry Peek() => ref _entries[_head];

    /// <summary>Drops the oldest entry (fully consumed).</summary>
    public void Dequeue()
    {
        _head = (_head + 1) & (_entries.Length - 1);
        Count--;
    }

    /// <summary>A buffer's unread part.</summary>
    internal struct Entry(ushort id, int offset, int length)
    {
        public ushort Id = id;
        public int Offset = offset;
        public int Length = length;
    }
}
