using System.Collections.Concurrent;

namespace Aio.TestHelper;

/// <summary>Exceptions that escaped <c>Poll</c> (or another call the scenario keeps going after), grouped by text.</summary>
internal sealed class PollFaults
{
    private readonly ConcurrentDictionary<string, int> _seen = new();
    private readonly ConcurrentQueue<Exception> _all = new();

    public int Count => _all.Count;

    public void Record(Exception ex)
    {
        _all.Enqueue(ex);
        _seen.AddOrUpdate($"{ex.GetType().Name}: {ex.Message}", 1, (_, n) => n + 1);
    }

    /// <summary>
    /// Whether every recorded exception is an <see cref="AioException"/> with one of <paramref name="errnos"/> whose
    /// message names <paramref name="call"/>: the "clear AioException naming the call" the issue allows.
    /// </summary>
    public bool AllAre(string call, params int[] errnos)
        => _all.All(e => e is AioException a && errnos.Contains(a.Errno) && a.Message.Contains(call, StringComparison.Ordinal));

    public string Describe() => _all.IsEmpty ? "none" : string.Join("; ", _seen.Select(kv => $"{kv.Value}x {kv.Key}"));
}
