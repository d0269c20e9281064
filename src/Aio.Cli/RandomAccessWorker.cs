using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Aio.Cli;

/// <summary>
/// One request slot of the randomaccess engine: a thread-pool work item that does one RandomAccess.Read or Write (as
/// RandomAccess.ReadAsync does for a regular file: a pool work item making the system call), records it, and queues
/// itself again with the next request. The clock starts when the request is queued, so its wait for a pool thread
/// counts, as an io_uring request's wait to be submitted counts in that row: with iodepth slots always queued or
/// running, IOPS × mean latency ≈ iodepth (Little's law), as for the other rows.
/// </summary>
/// <remarks>
/// Workers awaiting RandomAccess.ReadAsync would not keep iodepth requests pending: ReadAsync queues its work item
/// to the current pool thread's local queue, which that thread serves before the global queue where the other
/// workers wait to start, so only a few of them ever run.
/// </remarks>
internal sealed class RandomAccessWorker : IThreadPoolWorkItem
{
    private readonly SafeFileHandle _handle;
    private readonly Memory<byte> _buffer;
    private readonly RequestStream _stream;
    private readonly LatencyHistogram _histogram;
    private readonly VerifyMap? _verify;
    private readonly RunClock _clock;
    private readonly Progress _progress;
    private readonly int _slot;
    private readonly CancellationToken _stop;
    private readonly TaskCompletionSource<(long Ios, long Reads)> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private (long Block, bool Read) _request;
    private long _submitted;
    private long _ios;
    private long _reads;

    public RandomAccessWorker(SafeFileHandle handle, Memory<byte> buffer, RequestStream stream, LatencyHistogram histogram, VerifyMap? verify, RunClock clock, Progress progress, int slot, CancellationToken stop)
    {
        _handle = handle;
        _buffer = buffer;
        _stream = stream;
        _histogram = histogram;
        _verify = verify;
        _clock = clock;
        _progress = progress;
        _slot = slot;
        _stop = stop;
        stream.FillInitial(buffer.Span);
    }

    /// <summary>Completes with the requests done (and the reads among them) after the ramp, once stopped.</summary>
    public Task<(long Ios, long Reads)> Done => _done.Task;

    /// <summary>Queues the next request.</summary>
    public void Submit()
    {
        _request = _stream.Next();
        if (!_request.Read && _verify is not null)
        {
            VerifyMap.Fill(_buffer.Span, _stream.Region.OffsetOf(_request.Block));
        }

        _submitted = Stopwatch.GetTimestamp();
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public void Execute()
    {
        // On a pool thread: an exception escaping here would end the process (no row printed, the scratch file left).
        try
        {
            if (Step())
            {
                Submit();
            }
        }
        catch (Exception ex)
        {
            _done.TrySetException(ex);
        }
    }

    /// <summary>Does the queued request and records it; false once stopped.</summary>
    private bool Step()
    {
        var (block, read) = _request;
        long offset = _stream.Region.OffsetOf(block);
        if (read)
        {
            RandomAccess.Read(_handle, _buffer.Span, offset);
        }
        else
        {
            RandomAccess.Write(_handle, (ReadOnlySpan<byte>)_buffer.Span, offset);
            _verify?.Mark(block);
        }

        long end = Stopwatch.GetTimestamp();
        if (_clock.Measuring(_submitted))
        {
            _histogram.RecordTicks(_submitted, end);
            _ios++;
            _reads += read ? 1 : 0;
            _progress.Add(_slot);
        }

        if (_stop.IsCancellationRequested)
        {
            _done.TrySetResult((_ios, _reads));
            return false;
        }

        return true;
    }
}
