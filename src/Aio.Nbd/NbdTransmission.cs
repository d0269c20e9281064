using System.Buffers.Binary;
using System.Runtime.ExceptionServices;
namespace Aio.Nbd;

/// <summary>
/// The transmission phase of one connection: one receive loop reads and checks each request (every offset + length
/// in 64 bits, before any I/O) and starts it as an async operation on the connection's loop; up to
/// <c>maxInFlight</c> run at once; their replies go through the connection's <see cref="NbdReplyQueue"/>.
/// </summary>
internal sealed partial class NbdTransmission
{
    private readonly NbdTransport _transport;
    private readonly NbdSession _session;
    private readonly NbdExport _export;
    private readonly BlockFile _file;
    private readonly NbdReplyQueue _replies;
    private readonly SemaphoreSlim _slots;
    private readonly NbdByteBudget _budget;
    private readonly byte[] _header = new byte[NbdProtocol.RequestSize];
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stack<NbdRequestWorker> _idle = new();
    private readonly List<NbdRequestWorker> _workers = [];
    private readonly Action<string>? _log;

    // Allocation answers of the request being started, used only before its first await (a connection's requests
    // start one at a time, on its loop), so no request needs a list of its own.
    private readonly List<NbdExtent> _extents = [];
    private int _inFlight = 1;   // the receive loop's own reference: drained only once it has stopped too

    public NbdTransmission(NbdTransport transport, NbdSession session, AioContext context, int maxInFlight, long maxBytesInFlight, Action<Exception> onSendFailure, Action? onBudgetWait = null, Action<string>? log = null)
    {
        _log = log;
        _transport = transport;
        _session = session;
        _export = session.Export ?? throw new InvalidOperationException("No export chosen.");
        _file = _export.FileFor(context);
        _budget = new NbdByteBudget(maxBytesInFlight, onBudgetWait);
        _replies = new NbdReplyQueue(transport, _budget, onSendFailure);
        _slots = new SemaphoreSlim(maxInFlight, maxInFlight);
    }

    /// <summary>The most buffer bytes this connection held at once (requests executing and replies not yet sent).</summary>
    public long PeakBytesHeld => _budget.Peak;

    /// <summary>The reply queue's gathered sends (for tests). Loop thread.</summary>
    public long ReplySends => _replies.Sends;

    /// <summary>Page-cache WRITEs written straight from the receive buffer (for tests). Loop thread.</summary>
    public long WritesFromReceiveBuffer { get; private set; }

    /// <summary>Page-cache WRITEs a request worker wrote with pwrite on the loop (for tests). Loop thread.</summary>
    public long WorkerWritesOnLoop { get; private set; }

    /// <summary>READs answered from the page cache through the export's view (for tests). Loop thread.</summary>
    public long ReadsFromView { get; private set; }

    /// <summary>READs answered in the receive loop, from the view or as a hole (for tests). Loop thread.</summary>
    public long ReadsInPlace { get; private set; }

    /// <summary>Requests being executed now (for tests and diagnostics).</summary>
    public int InFlight => Volatile.Read(ref _inFlight) - 1;

    /// <summary>
    /// Serves requests until DISC, the client's close, a protocol violation or <paramref name="stop"/>; then waits
    /// for every request it has read to be answered and its reply sent. An unexpected exception of the receive loop
    /// is rethrown after that drain, so the workers and the reply pump always end.
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        ExceptionDispatchInfo? unexpected = null;
        try
        {
            await ReceiveLoopAsync(stop).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // The client went away or the server is stopping: answer what was read, then close.
        }
        catch (Exception ex)
        {
            unexpected = ExceptionDispatchInfo.Capture(ex);
        }

        Complete();
        await _drained.Task.ConfigureAwait(true);
        lock (_idle)
        {
            // Every request has ended, so every worker is idle (waiting for its next request): let them end.
            foreach (var worker in _workers)
            {
                worker.Stop();
            }
        }

        await _replies.WhenIdleAsync().ConfigureAwait(true);
        _replies.Stop();
        unexpected?.Throw();
    }

    private async Task ReceiveLoopAsync(CancellationToken stop)
    {
        while (true)
        {
            // The socket's receive awaited here directly (see NbdTransport.Take); usually the header is buffered.
            int got = 0;
            while (!_transport.Take(_header, ref got))
            {
                int received = await _transport.ReceiveAsync(_header.AsMemory(got), stop).ConfigureAwait(true);
                if (received == 0)
                {
                    return;
                }

                got += _transport.Received(received);
            }

            if (BinaryPrimitives.ReadUInt32BigEndian(_header) != NbdProtocol.RequestMagic)
            {
                // Out of sync: nothing after this can be trusted as a request boundary.
                _log?.Invoke($"client dropped: bad request magic 0x{BinaryPrimitives.ReadUInt32BigEndian(_header):x8}");
                return;
            }

            var request = new NbdRequest(
                BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(4)),
                BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(6)),
                BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(8)),
                BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(16)),
                BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(24)));

            if (request.Type == NbdProtocol.CmdDisc)
            {
                return;
            }

            // A WRITE's payload bytes not yet taken from the connection; PayloadInTransit once part of it may be.
            uint payloadUnread = request.Type == NbdProtocol.CmdWrite ? request.Length : 0;
            try
            {
                uint error = Validate(request, out string message);
                if (request.Type == NbdProtocol.CmdWrite)
                {
                    if (request.Length > NbdProtocol.MaxPayload)
                    {
                        // A payload over the advertised maximum: the protocol allows a hard disconnect (skipping it
                        // would read up to 4 GiB for nothing).
                        _log?.Invoke($"client dropped: WRITE of {request.Length} bytes, over the maximum payload of {NbdProtocol.MaxPayload}");
                        return;
                    }

                    if (error != 0)
                    {
                        // Refused, but the payload is on the wire: consume it so the next header is where it should be.
                        payloadUnread = PayloadInTransit;
                        await _transport.SkipAsync(request.Length, stop).ConfigureAwait(true);
                        payloadUnread = 0;
                        await FailWithinBudgetAsync(request, error, message, stop).ConfigureAwait(true);
                        continue;
                    }
                }
                else if (error != 0)
                {
                    await FailWithinBudgetAsync(request, error, message, stop).ConfigureAwait(true);
                    continue;
                }

                // Work that needs no I/O (or whose I/O cannot wait anyway) is done here, without a slot or a worker.
                bool answered = request.Type switch
                {
                    NbdProtocol.CmdWrite => TryWriteFromReceiveBuffer(request),
                    NbdProtocol.CmdRead => TryReadInPlace(request),
                    _ => false,
                };
                if (answered)
                {
                    continue;
                }

                // The buffer a READ or WRITE holds, reserved before its payload is read: the connection's bytes stay
                // bounded however large the requests and however slowly the client takes its replies. A WRITE_ZEROES
                // may write its zeroes, a piece at a time: it reserves one piece.
                int cost = request.Length == 0 ? 0 : request.Type switch
                {
                    NbdProtocol.CmdRead or NbdProtocol.CmdWrite => NbdExportIo.Span(_export, (long)request.Offset, request.Length).Length,
                    NbdProtocol.CmdWriteZeroes => NbdExportIo.ZeroingBufferBound(_export, request.Length),
                    _ => 0,
                };
                await _budget.ReserveAsync(cost, stop).ConfigureAwait(true);
                try
                {
                    await _slots.WaitAsync(stop).ConfigureAwait(true);
                }
                catch
                {
                    _budget.Release(cost);
                    throw;
                }

                AlignedBuffer? payload = null;
                if (request.Type == NbdProtocol.CmdWrite && request.Length > 0)
                {
                    var (_, spanLength, skip) = NbdExportIo.Span(_export, (long)request.Offset, request.Length);
                    payload = NbdBufferPool.Rent(spanLength);
                    payloadUnread = PayloadInTransit;
                    try
                    {
                        var destination = payload.Memory.Slice(skip, (int)request.Length);
                        int filled = 0;
                        while (!_transport.Take(destination.Span, ref filled))
                        {
                            int received = await _transport.ReceiveAsync(destination[filled..], stop).ConfigureAwait(true);
                            filled += received > 0 ? _transport.Received(received) : throw new EndOfStreamException("The client closed the connection in the middle of a payload.");
                        }
                    }
                    catch
                    {
                        NbdBufferPool.Return(payload);
                        _slots.Release();
                        _budget.Release(cost);
                        throw;
                    }
                }

                Interlocked.Increment(ref _inFlight);
                Dispatch(request, payload, cost);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The server is stopping while this request, read, waited for room or for its payload: it is answered
                // (ESHUTDOWN, the protocol's error for it) rather than dropped, and nothing more is read from the
                // socket. The requests behind it that one receive already brought in were read too: each is owed a reply.
                Fail(request, NbdProtocol.ESHUTDOWN, "The server is shutting down.");
                if (payloadUnread == PayloadInTransit)
                {
                    // Stopped while taking its payload: the rest of it may be anywhere; no request boundary is known.
                    return;
                }

                // A WRITE that waited for room has its payload ahead of the next header.
                if (PassOverBufferedPayload(payloadUnread))
                {
                    FailBufferedRequests();
                }

                return;
            }
        }
    }

    /// <summary>
    /// Stopping: consumes a WRITE's unread payload as far as it is buffered. False when part of it is still on the wire:
    /// then no request boundary can be found after it.
    /// </summary>
    private bool PassOverBufferedPayload(uint length)
    {
        uint passed = Math.Min(length, (uint)_transport.Buffered);
        _transport.ConsumeBuffered((int)passed);
        return passed == length;
    }

    /// <summary><c>payloadUnread</c> of a WRITE whose payload is being taken (or skipped): how much is left is not known.</summary>
    private const uint PayloadInTransit = uint.MaxValue;

    /// <summary>
    /// Stopping: answers every request whose header is already in the receive buffer with ESHUTDOWN (a WRITE's payload,
    /// as far as it is buffered, is passed over), without reading more from the socket.
    /// </summary>
    private void FailBufferedRequests()
    {
        while (_transport.Buffered >= NbdProtocol.RequestSize)
        {
            var header = _transport.PeekBuffered(NbdProtocol.RequestSize);
            if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdProtocol.RequestMagic)
            {
                return;
            }

            var request = new NbdRequest(
                BinaryPrimitives.ReadUInt16BigEndian(header[4..]),
                BinaryPrimitives.ReadUInt16BigEndian(header[6..]),
                BinaryPrimitives.ReadUInt64BigEndian(header[8..]),
                BinaryPrimitives.ReadUInt64BigEndian(header[16..]),
                BinaryPrimitives.ReadUInt32BigEndian(header[24..]));
            _transport.ConsumeBuffered(NbdProtocol.RequestSize);
            if (request.Type == NbdProtocol.CmdDisc)
            {
                return;
            }

            Fail(request, NbdProtocol.ESHUTDOWN, "The server is shutting down.");
            if (request.Type == NbdProtocol.CmdWrite && !PassOverBufferedPayload(request.Length))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Answers a refused request once the connection is within its byte budget: its only cost is the reply, but a
    /// client that sends nothing but refused requests and reads no reply must stop the server reading, as any other does.
    /// </summary>
    private async ValueTask FailWithinBudgetAsync(NbdRequest request, uint error, string message, CancellationToken stop)
    {
        await _budget.ReserveAsync(0, stop).ConfigureAwait(true);
        Fail(request, error, message);
    }

    /// <summary>
    /// A page-cache WRITE whose whole payload is already in the receive buffer (a client streaming small writes sends
    /// them back to back): written to the file straight from that buffer, here in the receive loop. That write would
    /// run synchronously on the loop anyway (<see cref="NbdExportIo.WriteToPageCache"/>); this way it needs no payload
    /// buffer, no copy into one, no slot and no worker. O_DIRECT exports and exports with an alignment (a ring
    /// request, the write tracker), an export with a punch running (<see cref="NbdExport.WritesOnLoop"/>), FUA (a flush to await), payloads still on the wire, and a connection over its
    /// byte budget (its queued replies count: a client that stops reading them must stop the server reading
    /// requests, which the usual path's reservation does) take the usual path.
    /// </summary>
    private bool TryWriteFromReceiveBuffer(in NbdRequest request)
    {
        int length = (int)request.Length;
        if (length == 0
            || !_export.WritesOnLoop
            || _export.TracksWrites
            || (request.Flags & NbdProtocol.CmdFlagFua) != 0
            || _transport.Buffered < length
            || !_budget.HasRoom(NbdProtocol.SimpleReplySize))
        {
            return false;
        }

        WritesFromReceiveBuffer++;

        try
        {
            NbdExportIo.WriteToPageCache(_file, _transport.PeekBuffered(length), (long)request.Offset);
            _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
        }
        catch (Exception ex)
        {
            // As the workers answer a failed request: the error reply, and the connection goes on.
            Fail(request, NbdReplies.ErrorFor(ex), ex.Message);
        }
        finally
        {
            _transport.ConsumeBuffered(length);
        }

        return true;
    }

    /// <summary>
    /// A page-cache export's READ that needs no I/O, answered here in the receive loop: every page of it resident in the
    /// export's view (<see cref="TryReadFromView"/>), or, with structured replies, all of it a hole. As for writes from the
    /// receive buffer, such a read takes no slot, no worker and no reservation (its reply joins the budget when it is
    /// queued); a connection over its byte budget, data and holes mixed, and pages out of memory take the usual path.
    /// </summary>
    private bool TryReadInPlace(in NbdRequest request)
    {
        long offset = (long)request.Offset;
        int length = (int)request.Length;
        if (length == 0 || _export.View is null || _transport.IsTls || !_budget.HasRoom(length))
        {
            return false;
        }

        if (_session.Structured && (request.Flags & NbdProtocol.CmdFlagDf) == 0)
        {
            // The allocation answer is cached for runs of data, so this costs no system call on a written export.
            _extents.Clear();
            try
            {
                _export.GetExtents(offset, offset + length, 2, _extents);
            }
            catch (Exception ex) when (ex is AioException or ObjectDisposedException)
            {
                // lseek failed, or the export is closing: the usual path asks again and answers the READ with the error.
                return false;
            }

            if (_extents.Count != 1)
            {
                return false;
            }

            if (_extents[0].Hole)
            {
                _replies.Enqueue(NbdReplies.Hole(request.Cookie, done: true, request.Offset, request.Length));
                ReadsInPlace++;
                return true;
            }
        }

        if (!TryReadFromView(request))
        {
            return false;
        }

        ReadsInPlace++;
        return true;
    }

    private void Dispatch(NbdRequest request, AlignedBuffer? payload, int cost)
    {
        NbdRequestWorker? worker;
        bool created = false;
        lock (_idle)
        {
            if (!_idle.TryPop(out worker))
            {
                // At most one per request in flight: the slots bound how many this makes.
                worker = new NbdRequestWorker();
                _workers.Add(worker);
                created = true;
            }
        }

        if (created)
        {
            _ = WorkAsync(worker);
        }

        // Runs the request inline up to its first await, as a direct call would.
        worker.Start(request, payload, cost);
    }

    private void Complete()
    {
        // Pairs with the increment in ReceiveLoopAsync: the last of the requests (or the loop itself) signals drained.
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }
    }
}
