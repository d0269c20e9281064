using System.Runtime.ExceptionServices;

namespace Aio.Async;

/// <summary>
/// A <see cref="SynchronizationContext.Send"/> from another thread: the sender blocks until the loop ran the callback,
/// or until the context was disposed with the request still queued (then it throws <see cref="ObjectDisposedException"/>).
/// </summary>
internal sealed class SendRequest : IDisposable
{
    private readonly SendOrPostCallback _callback;
    private readonly object? _state;
    private readonly string _contextName;
    private readonly ManualResetEventSlim _done = new();
    private Exception? _error;

    public SendRequest(SendOrPostCallback callback, object? state, string contextName)
    {
        _callback = callback;
        _state = state;
        _contextName = contextName;
    }

    /// <summary>On the loop.</summary>
    public void Run()
    {
        try
        {
            _callback(_state);
        }
        catch (Exception ex)
        {
            _error = ex;
        }
        finally
        {
            // Release: the error written above is visible to the sender once it sees the event set.
            _done.Set();
        }
    }

    /// <summary>The context was disposed before the loop ran it.</summary>
    public void Abandon()
    {
        _error = new ObjectDisposedException(nameof(AioContext), $"AioContext '{_contextName}' was disposed before the sent callback could run.");
        _done.Set();
    }

    /// <summary>The sender: waits, then rethrows the callback's exception (with its original stack) or the abandonment.</summary>
    public void Wait()
    {
        _done.Wait();
        if (_error is not null)
        {
            ExceptionDispatchInfo.Throw(_error);
        }
    }

    public void Dispose() => _done.Dispose();
}
