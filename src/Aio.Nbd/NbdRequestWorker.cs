namespace Aio.Nbd;

/// <summary>
/// One of a connection's request executors (created on demand, up to the in-flight cap, then reused): the receive
/// loop hands it a request, it runs it and goes back to the idle stack. Running each request as a call awaited by a
/// long-lived worker, rather than as a fire-and-forget task, lets the request's async method use a pooled box.
/// </summary>
internal sealed class NbdRequestWorker
{
    private readonly NbdSignal _next = new();

    public NbdRequest Request { get; private set; }

    public AlignedBuffer? Payload { get; private set; }

    public int Cost { get; private set; }

    /// <summary>The extents of a READ whose range mixes data and holes (null: one chunk), kept across its I/O.</summary>
    public NbdExtent[]? Mixed { get; set; }

    /// <summary>True with the next request to run; false when the connection is done.</summary>
    public ValueTask<bool> NextAsync() => _next.WaitAsync();

    public void Start(NbdRequest request, AlignedBuffer? payload, int cost)
    {
        Request = request;
        Payload = payload;
        Cost = cost;
        _next.Set(true);
    }

    public void Stop() => _next.Set(false);
}
