using Aio.Diagnostics;

namespace Aio;

/// <summary>
/// A context on a thread of its own (QEMU <c>IOThread</c>): the thread creates the context (so the ring is owned and
/// enabled there) and runs <c>Poll(true)</c> until disposed.
/// </summary>
public sealed class IoThread : IDisposable
{
    /// <summary>QEMU's default poll-max-ns for an IOThread.</summary>
    public const long DefaultPollMaxNs = 32768;

    private readonly Thread _thread;
    private readonly AioContext _context;
    private volatile bool _stopping;
    private int _disposed;

    private IoThread(string name, AioContextOptions options)
    {
        AioContext? created = null;
        Exception? failure = null;
        using var ready = new ManualResetEventSlim();
        _thread = new Thread(() =>
        {
            try
            {
                created = AioContext.Create(options);
                created.BindAsIoThread();
            }
            catch (Exception ex)
            {
                failure = ex;
                return;
            }
            finally
            {
                ready.Set();
            }

            Run(created);
        })
        {
            Name = name,
            IsBackground = true,
        };
        _thread.Start();
        ready.Wait();
        if (failure is not null)
        {
            _thread.Join();
            throw failure;
        }

        _context = created!;
    }

    /// <summary>Raised on the IoThread when a callback throws; the thread reports it and keeps serving.</summary>
    public event Action<IoThread, Exception>? CallbackException;

    /// <summary>The context this thread runs.</summary>
    public AioContext Context => _context;

    /// <summary>The thread's name.</summary>
    public string Name => _thread.Name!;

    /// <summary>
    /// Starts a thread named <paramref name="name"/> running a new context. <see cref="AioContextOptions.PollMaxNs"/> 0
    /// (the default) means <see cref="DefaultPollMaxNs"/> here; call <c>Context.SetPollParameters(0, 0, 0)</c> to turn
    /// polling off.
    /// </summary>
    /// <exception cref="AioException">The context could not be created.</exception>
    public static IoThread Start(string name, AioContextOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new AioContextOptions();
        options = options with
        {
            Name = options.Name ?? name,
            PollMaxNs = options.PollMaxNs == 0 ? DefaultPollMaxNs : options.PollMaxNs,
        };
        return new IoThread(name, options);
    }

    /// <summary>Stops the loop (through a one-shot bottom half), joins the thread and disposes the context. From the thread itself it only asks the loop to stop.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Thread.CurrentThread == _thread)
        {
            _stopping = true;
            return;
        }

        _context.ScheduleOneShot(() => _stopping = true);
        _thread.Join();
    }

    private void Run(AioContext context)
    {
        while (!_stopping)
        {
            try
            {
                context.Poll(true);
            }
            catch (Exception ex)
            {
                AioEventSource.Log.CallbackFailed(context.Name, ex.ToString());
                CallbackException?.Invoke(this, ex);
            }
        }

        context.Dispose();
    }
}
