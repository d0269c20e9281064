namespace Aio;

/// <summary>
/// The ready list of one loop iteration (a nested <c>Poll</c> gets its own). Handing a handler to a list takes its
/// dispatch over from any outer list that still holds it (see <see cref="AioHandler.ReadySeq"/>).
/// </summary>
internal sealed class ReadyCollector
{
    [ThreadStatic]
    private static long t_seq;
    private readonly List<ReadyEvent> _events = [];

    public int Count => _events.Count;

    public ReadyEvent this[int index] => _events[index];

    /// <summary>Adds a ready handler, unless it is deleted. Home thread.</summary>
    public void Add(AioHandler handler, PollEvents events)
    {
        if (handler.IsDeleted)
        {
            return;
        }

        // Per thread: a handler is only ever collected on its context's home thread.
        long seq = ++t_seq;
        handler.ReadySeq = seq;
        _events.Add(new ReadyEvent(handler, events, seq));
    }

    public void Clear() => _events.Clear();
}
