namespace Aio;

/// <summary>
/// The ready list of one loop iteration (a nested <c>Poll</c> gets its own). Handing a handler to a list takes its
/// dispatch over from any outer list that still holds it (see <see cref="ReadyTicket"/>).
/// </summary>
internal sealed class ReadyCollector
{
    private readonly List<ReadyEvent> _events = [];

    public int Count => _events.Count;

    public ReadyEvent this[int index] => _events[index];

    /// <summary>Adds a handler the monitor found ready with <paramref name="events"/>, unless it is deleted. Home thread.</summary>
    public void Add(AioHandler handler, PollEvents events) => Add(handler, events, polled: false);

    /// <summary>Adds a handler whose busy-poll check saw work (its pollReady runs), unless it is deleted. Home thread.</summary>
    public void AddPolled(AioHandler handler) => Add(handler, PollEvents.None, polled: true);

    public void Clear() => _events.Clear();

    private void Add(AioHandler handler, PollEvents events, bool polled)
    {
        if (handler.IsDeleted)
        {
            return;
        }

        _events.Add(new ReadyEvent(handler, events, handler.Ticket.Issue(), polled));
    }
}
