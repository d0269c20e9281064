namespace Aio.TestHelper;

/// <summary>
/// Exact accounting of numbered requests: each is issued once, then either refused (the submitting call threw) or
/// completed; a refused request must never complete, an accepted one exactly once.
/// </summary>
internal sealed class RequestLedger
{
    private readonly int[] _completions;
    private readonly int[] _refused;
    private readonly int[] _issued;
    private readonly int[] _results;
    private readonly int[] _touched;
    private readonly CqeHandler[] _handlers;
    private int _settled;

    public RequestLedger(int count)
    {
        _completions = new int[count];
        _refused = new int[count];
        _issued = new int[count];
        _results = new int[count];
        _touched = new int[count];
        _handlers = new CqeHandler[count];
        for (int i = 0; i < count; i++)
        {
            _handlers[i] = new Handler(this, i);
        }
    }

    public int Count => _completions.Length;

    /// <summary>Every issued request was refused or completed (acquire: pairs with the increments below).</summary>
    public bool AllSettled => Volatile.Read(ref _settled) >= Count;

    /// <summary>The handler of request <paramref name="id"/>; marks it issued.</summary>
    public CqeHandler Issue(int id)
    {
        Interlocked.Increment(ref _issued[id]);
        return _handlers[id];
    }

    /// <summary>The submitting call threw: the request must not go ahead.</summary>
    public void Refuse(int id)
    {
        Interlocked.Increment(ref _refused[id]);
        Settle(id);
    }

    /// <summary>How many requests were refused or completed so far.</summary>
    public int Settled => Volatile.Read(ref _settled);

    public int Completed => _completions.Count(c => c > 0);

    public int Refused => _refused.Count(r => r > 0);

    public int[] Lost => Ids(i => _completions[i] == 0 && _refused[i] == 0);

    public int[] Duplicated => Ids(i => _completions[i] > 1);

    public int[] RefusedButCompleted => Ids(i => _refused[i] > 0 && _completions[i] > 0);

    public int[] WrongResult(Func<int, int, bool> ok) => Ids(i => _completions[i] > 0 && !ok(i, _results[i]));

    public bool Exact => Lost.Length == 0 && Duplicated.Length == 0 && RefusedButCompleted.Length == 0;

    public string Describe()
        => $"issued {_issued.Count(n => n > 0)}/{Count}, completed {Completed}, refused {Refused}, " +
           $"lost {Lost.Length} {Sample(Lost)}, duplicated {Duplicated.Length} {Sample(Duplicated)}, " +
           $"refused-but-completed {RefusedButCompleted.Length} {Sample(RefusedButCompleted)}";

    private static string Sample(int[] ids) => ids.Length == 0 ? string.Empty : "[" + string.Join(",", ids.Take(12)) + (ids.Length > 12 ? ",..." : string.Empty) + "]";

    private int[] Ids(Func<int, bool> predicate) => Enumerable.Range(0, Count).Where(predicate).ToArray();

    private void OnCompletion(int id, int result)
    {
        _results[id] = result;
        Interlocked.Increment(ref _completions[id]);
        Settle(id);
    }

    // The first of "refused" and "completed" settles a request; a second is an error the counts show.
    private void Settle(int id)
    {
        if (Interlocked.Exchange(ref _touched[id], 1) == 0)
        {
            Interlocked.Increment(ref _settled);
        }
    }

    private sealed class Handler : CqeHandler
    {
        private readonly RequestLedger _ledger;
        private readonly int _id;

        public Handler(RequestLedger ledger, int id)
        {
            _ledger = ledger;
            _id = id;
        }

        protected internal override void OnCompletion(in Cqe cqe) => _ledger.OnCompletion(_id, cqe.Result);
    }
}
