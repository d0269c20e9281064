namespace Aio.Async;

/// <summary>
/// Posts to the loop as one-shot bottom halves, so <c>await</c> in loop code comes back to the loop. <see cref="Send"/>
/// runs inline on the home thread and blocks other threads until the loop has run the callback.
/// </summary>
internal sealed class AioSynchronizationContext : SynchronizationContext
{
    private readonly AioContext _context;

    public AioSynchronizationContext(AioContext context) => _context = context;

    public AioContext Context => _context;

    /// <summary>Never throws for a disposed context: the callback then runs on the thread pool (see <see cref="PostedCallback"/>).</summary>
    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        var posted = new PostedCallback(d, state);
        if (!_context.TryScheduleOneShot(posted.Run, posted.RunElsewhere))
        {
            posted.RunElsewhere();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> if the context is disposed before the loop ran the callback.</summary>
    public override void Send(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (_context.IsOnHomeThread)
        {
            d(state);
            return;
        }

        using var request = new SendRequest(d, state, _context.Name);
        if (!_context.TryScheduleOneShot(request.Run, request.Abandon))
        {
            _context.ThrowIfDisposed();
        }

        request.Wait();
    }

    public override SynchronizationContext CreateCopy() => this;
}
