using System.Buffers.Binary;

namespace Aio.Nbd;

/// <summary>
/// The transmission phase of one connection: one receive loop reads and checks each request (every offset + length
/// in 64 bits, before any I/O) and starts it as an async operation on the connection's loop; up to
/// <c>maxInFlight</c> run at once; their replies go through the connection's <see cref="NbdReplyQueue"/>.
/// </summary>
internal sealed class NbdTransmission
{
    private const ushort ReadFlags = NbdProtocol.CmdFlagFua | NbdProtocol.CmdFlagDf;
    private const ushort WriteZeroesFlags = NbdProtocol.CmdFlagFua | NbdProtocol.CmdFlagNoHole | NbdProtocol.CmdFlagFastZero;
    private const ushort BlockStatusFlags = NbdProtocol.CmdFlagFua | NbdProtocol.CmdFlagReqOne;

    private readonly NbdTransport _transport;
    private readonly NbdSession _session;
    private readonly NbdExport _export;
    private readonly BlockFile _file;
    private readonly NbdReplyQueue _replies;
    private readonly SemaphoreSlim _slots;
    private readonly NbdByteBudget _budget;
    private readonly byte[] _header = new byte[NbdProtocol.RequestSize];
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight = 1;   // the receive loop's own reference: drained only once it has stopped too

    public NbdTransmission(NbdTransport transport, NbdSession session, AioContext context, int maxInFlight, long maxBytesInFlight, Action<Exception> onSendFailure)
    {
        _transport = transport;
        _session = session;
        _export = session.Export ?? throw new InvalidOperationException("No export chosen.");
        _file = _export.FileFor(context);
        _budget = new NbdByteBudget(maxBytesInFlight);
        _replies = new NbdReplyQueue(transport, _budget, onSendFailure);
        _slots = new SemaphoreSlim(maxInFlight, maxInFlight);
    }

    /// <summary>The most buffer bytes this connection held at once (requests executing and replies not yet sent).</summary>
    public long PeakBytesHeld => _budget.Peak;

    /// <summary>Requests being executed now (for tests and diagnostics).</summary>
    public int InFlight => Volatile.Read(ref _inFlight) - 1;

    /// <summary>
    /// Serves requests until DISC, the client's close, a protocol violation or <paramref name="stop"/>; then waits
    /// for every request it has read to be answered and its reply sent.
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        try
        {
            await ReceiveLoopAsync(stop).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // The client went away or the server is stopping: answer what was read, then close.
        }

        Complete();
        await _drained.Task.ConfigureAwait(true);
        await _replies.WhenIdleAsync().ConfigureAwait(true);
    }

    private async Task ReceiveLoopAsync(CancellationToken stop)
    {
        while (true)
        {
            if (!await _transport.ReadExactAsync(_header, stop).ConfigureAwait(true))
            {
                return;
            }

            if (BinaryPrimitives.ReadUInt32BigEndian(_header) != NbdProtocol.RequestMagic)
            {
                // Out of sync: nothing after this can be trusted as a request boundary.
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

            uint error = Validate(request, out string message);
            if (request.Type == NbdProtocol.CmdWrite)
            {
                if (request.Length > NbdProtocol.MaxPayload)
                {
                    // A payload over the advertised maximum: the protocol allows a hard disconnect.
                    return;
                }

                if (error != 0)
                {
                    // Refused, but the payload is on the wire: consume it so the next header is where it should be.
                    await _transport.SkipAsync(request.Length, stop).ConfigureAwait(true);
                    Fail(request, error, message);
                    continue;
                }
            }
            else if (error != 0)
            {
                Fail(request, error, message);
                continue;
            }

            // The buffer a READ or WRITE holds, reserved before its payload is read: the connection's bytes stay
            // bounded however large the requests and however slowly the client takes its replies.
            int cost = request.Type is NbdProtocol.CmdRead or NbdProtocol.CmdWrite && request.Length > 0
                ? NbdExportIo.Span(_export, (long)request.Offset, request.Length).Length
                : 0;
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
                try
                {
                    await _transport.ReadRequiredAsync(payload.Memory.Slice(skip, (int)request.Length), stop).ConfigureAwait(true);
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
            _ = ExecuteAsync(request, payload, cost);
        }
    }

    /// <summary>The request's error (0 if it may run): EPERM read-only, ENOSPC/EINVAL out of range, EINVAL bad flags or command.</summary>
    private uint Validate(NbdRequest request, out string message)
    {
        message = "";
        ushort allowed;
        bool writes = false;
        bool ranged = true;
        switch (request.Type)
        {
            case NbdProtocol.CmdRead:
                allowed = _session.Structured ? ReadFlags : NbdProtocol.CmdFlagFua;
                break;
            case NbdProtocol.CmdWrite:
                allowed = NbdProtocol.CmdFlagFua;
                writes = true;
                break;
            case NbdProtocol.CmdFlush:
                allowed = NbdProtocol.CmdFlagFua;
                ranged = false;
                break;
            case NbdProtocol.CmdTrim:
                allowed = NbdProtocol.CmdFlagFua;
                writes = true;
                break;
            case NbdProtocol.CmdCache:
                allowed = NbdProtocol.CmdFlagFua;
                break;
            case NbdProtocol.CmdWriteZeroes:
                allowed = WriteZeroesFlags;
                writes = true;
                break;
            case NbdProtocol.CmdBlockStatus:
                allowed = BlockStatusFlags;
                if (!_session.HasBaseAllocation)
                {
                    message = "no meta context was negotiated for this export";
                    return NbdProtocol.EINVAL;
                }

                break;
            default:
                message = "unknown command";
                return NbdProtocol.EINVAL;
        }

        if (writes && _export.ReadOnly)
        {
            message = "the export is read-only";
            return NbdProtocol.EPERM;
        }

        if (ranged)
        {
            // 64-bit check that cannot overflow: offset <= size and length <= size - offset.
            ulong size = (ulong)_export.Size;
            if (request.Offset > size || request.Length > size - request.Offset)
            {
                message = "request past the end of the export";
                return request.Type is NbdProtocol.CmdWrite or NbdProtocol.CmdWriteZeroes ? NbdProtocol.ENOSPC : NbdProtocol.EINVAL;
            }
        }

        if ((request.Flags & ~allowed) != 0)
        {
            message = "command flag not valid for this command";
            return NbdProtocol.EINVAL;
        }

        if (request.Type == NbdProtocol.CmdRead && request.Length > NbdProtocol.MaxPayload)
        {
            message = "read larger than the maximum payload";
            return NbdProtocol.EINVAL;
        }

        if (request.Type == NbdProtocol.CmdBlockStatus && request.Length == 0)
        {
            message = "zero-length block status";
            return NbdProtocol.EINVAL;
        }

        return 0;
    }

    private void Fail(NbdRequest request, uint error, string message)
        => _replies.Enqueue(_session.Structured ? NbdReplies.Error(request.Cookie, error, message) : NbdReplies.Simple(request.Cookie, error));

    private async Task ExecuteAsync(NbdRequest request, AlignedBuffer? payload, int cost)
    {
        bool fua = (request.Flags & NbdProtocol.CmdFlagFua) != 0;
        long offset = (long)request.Offset;
        try
        {
            switch (request.Type)
            {
                case NbdProtocol.CmdRead:
                    await ReadAsync(request).ConfigureAwait(true);
                    break;
                case NbdProtocol.CmdWrite:
                    if (payload is not null)
                    {
                        await NbdExportIo.WriteAsync(_export, _file, payload, offset, (int)request.Length, fua).ConfigureAwait(true);
                    }

                    _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
                    break;
                case NbdProtocol.CmdFlush:
                    await _file.FlushAsync().ConfigureAwait(true);
                    _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
                    break;
                case NbdProtocol.CmdTrim:
                    if (request.Length > 0)
                    {
                        await NbdExportIo.TrimAsync(_export, _file, offset, request.Length, fua).ConfigureAwait(true);
                    }

                    _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
                    break;
                case NbdProtocol.CmdCache:
                    _export.Prefetch(offset, request.Length);
                    _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
                    break;
                case NbdProtocol.CmdWriteZeroes:
                    uint error = request.Length == 0 ? 0 : await NbdExportIo.ZeroAsync(
                        _export, _file, offset, request.Length,
                        noHole: (request.Flags & NbdProtocol.CmdFlagNoHole) != 0,
                        fastZero: (request.Flags & NbdProtocol.CmdFlagFastZero) != 0,
                        fua).ConfigureAwait(true);
                    if (error != 0)
                    {
                        Fail(request, error, "fast zeroing is not available here");
                    }
                    else
                    {
                        _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
                    }

                    break;
                case NbdProtocol.CmdBlockStatus:
                    BlockStatus(request);
                    break;
            }
        }
        catch (Exception ex)
        {
            Fail(request, NbdReplies.ErrorFor(ex), ex.Message);
        }
        finally
        {
            if (payload is not null)
            {
                NbdBufferPool.Return(payload);
            }

            _slots.Release();
            _budget.Release(cost);
            Complete();
        }
    }

    private async ValueTask ReadAsync(NbdRequest request)
    {
        long offset = (long)request.Offset;
        int length = (int)request.Length;
        if (length == 0)
        {
            _replies.Enqueue(_session.Structured ? NbdReplies.Done(request.Cookie) : NbdReplies.Simple(request.Cookie, 0));
            return;
        }

        List<NbdExtent>? extents = null;
        if (_session.Structured && (request.Flags & NbdProtocol.CmdFlagDf) == 0)
        {
            extents = [];
            _export.GetExtents(offset, offset + length, 1024, extents);
            if (extents.Count == 1 && extents[0].Hole)
            {
                // All hole: no I/O at all, one OFFSET_HOLE chunk.
                _replies.Enqueue(NbdReplies.Hole(request.Cookie, done: true, request.Offset, request.Length));
                return;
            }
        }

        var (_, spanLength, skip) = NbdExportIo.Span(_export, offset, length);
        var buffer = NbdBufferPool.Rent(spanLength);
        try
        {
            await NbdExportIo.ReadAsync(_export, _file, buffer, offset, length).ConfigureAwait(true);
        }
        catch
        {
            NbdBufferPool.Return(buffer);
            throw;
        }

        var data = buffer.Memory.Slice(skip, length);
        if (!_session.Structured)
        {
            _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0), new NbdReplySegment(data, null, buffer));
            return;
        }

        if (extents is null || extents.Count <= 1 || (extents.Count > 0 && extents[^1].Offset + extents[^1].Length < offset + length))
        {
            _replies.Enqueue(NbdReplies.DataHeader(request.Cookie, done: true, request.Offset, length), new NbdReplySegment(data, null, buffer));
            return;
        }

        // Mixed data and holes: one chunk per extent; the buffer goes back with the last one (sent last).
        for (int i = 0; i < extents.Count; i++)
        {
            var extent = extents[i];
            bool last = i == extents.Count - 1;
            var owner = last ? buffer : null;
            if (extent.Hole)
            {
                var hole = NbdReplies.Hole(request.Cookie, last, (ulong)extent.Offset, (uint)extent.Length);
                _replies.Enqueue(hole, new NbdReplySegment(ReadOnlyMemory<byte>.Empty, null, owner));
            }
            else
            {
                var slice = data.Slice((int)(extent.Offset - offset), (int)extent.Length);
                _replies.Enqueue(NbdReplies.DataHeader(request.Cookie, last, (ulong)extent.Offset, slice.Length), new NbdReplySegment(slice, null, owner));
            }
        }
    }

    private void BlockStatus(NbdRequest request)
    {
        long offset = (long)request.Offset;
        long end = offset + request.Length;
        bool one = (request.Flags & NbdProtocol.CmdFlagReqOne) != 0;
        var extents = new List<NbdExtent>();
        _export.GetExtents(offset, end, one ? 1 : NbdProtocol.MaxExtents, extents);
        int count = extents.Count;
        var (segment, array) = NbdReplies.Chunk(request.Cookie, NbdProtocol.ReplyFlagDone, NbdProtocol.ReplyTypeBlockStatus, (uint)(4 + (8 * count)), 4 + (8 * count));
        BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(20), NbdSession.BaseAllocationId);
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(24 + (8 * i)), (uint)extents[i].Length);
            BinaryPrimitives.WriteUInt32BigEndian(array.AsSpan(28 + (8 * i)), extents[i].Hole ? NbdProtocol.StateHole | NbdProtocol.StateZero : 0u);
        }

        _replies.Enqueue(segment);
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
