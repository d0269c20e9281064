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

    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        _context.ScheduleOneShot(() => d(state));
    }

    public override void Send(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (_context.IsOnHomeThread)
        {
            d(state);
            return;
        }

        using var done = new ManualResetEventSlim();
        Exception? error = null;
        _context.ScheduleOneShot(() =>
        {
            try
            {
                d(state);
            }
            catch (Exception ex)
            {
                error = ex;
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        if (error is not null)
        {
            // Like an inline Send: the callback's own exception, with its original stack.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    public override SynchronizationContext CreateCopy() => this;
}
