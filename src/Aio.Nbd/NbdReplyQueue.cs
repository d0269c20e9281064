using System.Buffers;

namespace Aio.Nbd;

/// <summary>
/// A connection's replies: each is queued whole (a reply message is never split by another), and one pump sends
/// everything queued so far in a single gathered send, so replies completing together cost one system call. The pump
/// is one long-lived loop per connection that waits on a reusable signal when idle: nothing is allocated per reply.
/// </summary>
internal sealed class NbdReplyQueue
{
    private readonly object _gate = new();
    private readonly NbdTransport _transport;
    private readonly NbdByteBudget _budget;
    private readonly Action<Exception> _onFailure;
    // Sized up front for a send of 64 segments (a full burst of 16 structured reads and more), and grown by doubling:
    // a send that carries more replies than any before allocates, a steady state does not, so these grow only a few
    // times in a connection's life rather than one segment at a time whenever a burst is a little larger.
    private const int InitialSegments = 64;

    /// <summary>
    /// What a queued segment costs beyond its bytes: its list slot, the pooled array's header and rounding, its link in
    /// the gathered send. Charged to the budget with the bytes, so that a flood of small replies (a client sending
    /// requests that are all refused, and reading no reply) is bounded by the memory it really takes, not by 16 bytes
    /// a reply.
    /// </summary>
    internal const int SegmentOverhead = 128;
    private readonly List<NbdSequenceSegment> _links = new(InitialSegments);
    private List<NbdReplySegment> _pending = new(InitialSegments);
    private List<NbdReplySegment> _sending = new(InitialSegments);
    private readonly NbdSignal _wake = new();
    private bool _pumpStarted;
    private bool _pumping;
    private bool _failed;
    private bool _stopped;
    private TaskCompletionSource? _idle;
    private BottomHalf? _kick;

    public NbdReplyQueue(NbdTransport transport, NbdByteBudget budget, Action<Exception> onFailure)
    {
        _transport = transport;
        _budget = budget;
        _onFailure = onFailure;
    }

    /// <summary>
    /// Wakes the idle pump in the loop's bottom-half phase, after the callback that queued the reply has returned: a
    /// receive that brought a burst of requests answers them all (page-cache writes answered in place, reads that
    /// completed at submission) before the pump runs, so they leave in one send. Resumed inline at the first reply,
    /// the pump sent that one alone and the rest one iteration later. No later in time: the send is handed to the
    /// kernel at the loop's next enter either way.
    /// </summary>
    private BottomHalf Kick => _kick ??= _transport.Socket.Context.CreateBottomHalf(() => _wake.Set(true), "nbd-replies");

    /// <summary>Gathered sends so far (for tests). Loop thread.</summary>
    public long Sends { get; private set; }

    /// <summary>Queues one reply (one to three segments) and makes sure it will be sent.</summary>
    public void Enqueue(NbdReplySegment first, NbdReplySegment? second = null, NbdReplySegment? third = null)
    {
        bool start, startPump;
        lock (_gate)
        {
            if (_failed)
            {
                first.Release();
                second?.Release();
                third?.Release();
                return;
            }

            // The connection holds these bytes until they are sent (given back in PumpAsync or Fail).
            _budget.Add(Cost(first) + (second is { } a ? Cost(a) : 0) + (third is { } b ? Cost(b) : 0));

            _pending.Add(first);
            if (second is { } s)
            {
                _pending.Add(s);
            }

            if (third is { } t)
            {
                _pending.Add(t);
            }

            start = !_pumping;
            _pumping = true;
            startPump = start && !_pumpStarted;
            _pumpStarted = true;
        }

        if (startPump)
        {
            // The pump's first run waits for the kick below like every later one.
            _ = PumpAsync();
        }

        if (start)
        {
            // Only the caller that turned _pumping on gets here, and the pump waits (or is about to) exactly once per
            // such turn: one Set per wait (the bottom half runs once however often it is scheduled before it runs).
            try
            {
                Kick.Schedule();
            }
            catch (ObjectDisposedException)
            {
                // The loop is gone: wake the pump here, whose send then fails and ends the connection.
                _wake.Set(true);
            }
        }
    }

    /// <summary>Ends the pump once everything queued is sent (the connection is done).</summary>
    public void Stop()
    {
        bool wake;
        lock (_gate)
        {
            _stopped = true;
            wake = !_pumping && _pumpStarted;
            _pumping |= wake;
        }

        if (wake)
        {
            _wake.Set(false);
        }
    }

    /// <summary>Completes when everything queued so far has been sent (or the connection failed).</summary>
    public Task WhenIdleAsync()
    {
        lock (_gate)
        {
            if (!_pumping || _failed)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }

    private async Task PumpAsync()
    {
        if (!await _wake.WaitAsync().ConfigureAwait(false))
        {
            return;
        }

        while (true)
        {
            TaskCompletionSource? idle = null;
            bool stop;
            lock (_gate)
            {
                (_pending, _sending) = (_sending, _pending);
                if (_sending.Count == 0)
                {
                    _pumping = false;
                    idle = _idle;
                    _idle = null;
                }

                stop = _stopped || _failed;
            }

            if (_sending.Count == 0)
            {
                idle?.TrySetResult();
                if (stop)
                {
                    return;
                }

                // Without a context: Enqueue resumes this inline, so the first reply after a pause is sent at once.
                if (!await _wake.WaitAsync().ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }

            try
            {
                Sends++;
                await _transport.SendAsync(Build(), CancellationToken.None).ConfigureAwait(true);
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            finally
            {
                _budget.Release(ReleaseAll(_sending));
            }
        }
    }

    private ReadOnlySequence<byte> Build()
    {
        if (_links.Count < _sending.Count)
        {
            int target = Math.Max(InitialSegments, _links.Count * 2);
            while (target < _sending.Count)
            {
                target *= 2;
            }

            while (_links.Count < target)
            {
                _links.Add(new NbdSequenceSegment());
            }
        }

        long running = 0;
        int last = _sending.Count - 1;
        for (int i = 0; i <= last; i++)
        {
            _links[i].Set(_sending[i].Memory, running, i < last ? _links[i + 1] : null);
            running += _sending[i].Memory.Length;
        }

        return new ReadOnlySequence<byte>(_links[0], 0, _links[last], _links[last].Memory.Length);
    }

    private static long Cost(in NbdReplySegment segment) => segment.Memory.Length + SegmentOverhead;

    private static long ReleaseAll(List<NbdReplySegment> segments)
    {
        long bytes = 0;
        foreach (var segment in segments)
        {
            bytes += Cost(segment);
            segment.Release();
        }

        segments.Clear();
        return bytes;
    }

    private void Fail(Exception ex)
    {
        TaskCompletionSource? idle;
        List<NbdReplySegment> dropped;
        lock (_gate)
        {
            _failed = true;
            _pumping = false;
            idle = _idle;
            _idle = null;
            dropped = _pending;
            _pending = [];
        }

        _budget.Release(ReleaseAll(dropped));
        idle?.TrySetResult();
        _onFailure(ex);
    }
}
