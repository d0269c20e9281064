using System.Buffers.Binary;

namespace Aio.Nbd;

/// <content>
/// Running requests. READ and aligned WRITE, nearly every request, are awaited right in the worker's loop: that
/// method's state lives as long as the worker, so they allocate nothing, and each await of a file operation resumes
/// inline on the loop. (An await of a nested async method would allocate its box and, awaited on the loop, come back
/// through the loop's queue: one more turn per level.) Everything else goes through <see cref="ExecuteAsync"/>.
/// </content>
internal sealed partial class NbdTransmission
{
    private async Task WorkAsync(NbdRequestWorker worker)
    {
        // Without a context: Start resumes this inline, on the receive loop's turn.
        while (await worker.NextAsync().ConfigureAwait(false))
        {
            var request = worker.Request;
            var payload = worker.Payload;
            long offset = (long)request.Offset;
            int length = (int)request.Length;
            AlignedBuffer? data = null;
            try
            {
                if (request.Type == NbdProtocol.CmdRead)
                {
                    data = StartRead(request, worker);
                    if (data is not null)
                    {
                        var (start, spanLength, _) = NbdExportIo.Span(_export, offset, length);
                        await _file.ReadAsync(data.Memory[..spanLength], start).ConfigureAwait(true);
                        var read = data;
                        data = null;   // the reply owns it from here
                        FinishRead(request, read, worker.Mixed);
                    }
                }
                else if (payload is not null && NbdExportIo.IsAligned(_export, offset, length))
                {
                    var tracked = _export.TracksWrites
                        ? await _export.Writes.BeginAsync(offset, offset + length, serialising: false).ConfigureAwait(true)
                        : null;
                    try
                    {
                        if (_export.WritesOnLoop)
                        {
                            WorkerWritesOnLoop++;
                            NbdExportIo.WriteToPageCache(_file, payload.Memory.Span[..length], offset);
                        }
                        else
                        {
                            await _file.WriteAsync(payload.Memory[..length], offset).ConfigureAwait(true);
                        }
                    }
                    finally
                    {
                        if (tracked is not null)
                        {
                            _export.Writes.End(tracked);
                        }
                    }

                    if ((request.Flags & NbdProtocol.CmdFlagFua) != 0)
                    {
                        await _file.FlushAsync().ConfigureAwait(true);
                    }

                    _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0));
                }
                else
                {
                    await ExecuteAsync(request, payload).ConfigureAwait(true);
                }
            }
            catch (Exception ex)
            {
                if (data is not null)
                {
                    NbdBufferPool.Return(data);
                }

                Fail(request, NbdReplies.ErrorFor(ex), ex.Message);
            }
            finally
            {
                Finish(worker);
            }
        }
    }

    /// <summary>The request is answered: give back what it held, then make the worker available again.</summary>
    private void Finish(NbdRequestWorker worker)
    {
        if (worker.Payload is not null)
        {
            NbdBufferPool.Return(worker.Payload);
        }

        _slots.Release();
        _budget.Release(worker.Cost);
        lock (_idle)
        {
            _idle.Push(worker);
        }

        // Last: the end of the last request lets RunAsync stop the workers, this one now idle too.
        Complete();
    }

    private void Fail(NbdRequest request, uint error, string message)
        => _replies.Enqueue(_session.Structured ? NbdReplies.Error(request.Cookie, error, message) : NbdReplies.Simple(request.Cookie, error));

    /// <summary>Every request but READ and aligned WRITE (unaligned writes, FLUSH, TRIM, CACHE, WRITE_ZEROES, BLOCK_STATUS).</summary>
    private async Task ExecuteAsync(NbdRequest request, AlignedBuffer? payload)
    {
        bool fua = (request.Flags & NbdProtocol.CmdFlagFua) != 0;
        long offset = (long)request.Offset;
        switch (request.Type)
        {
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

    /// <summary>
    /// The part of a READ before its I/O: answers a zero-length or all-hole read at once (null), else rents the buffer
    /// and notes in <paramref name="worker"/> whether data and holes mix (one chunk per extent then).
    /// </summary>
    private AlignedBuffer? StartRead(NbdRequest request, NbdRequestWorker worker)
    {
        long offset = (long)request.Offset;
        int length = (int)request.Length;
        worker.Mixed = null;
        if (length == 0)
        {
            _replies.Enqueue(_session.Structured ? NbdReplies.Done(request.Cookie) : NbdReplies.Simple(request.Cookie, 0));
            return null;
        }

        if (_session.Structured && (request.Flags & NbdProtocol.CmdFlagDf) == 0)
        {
            _extents.Clear();
            _export.GetExtents(offset, offset + length, 1024, _extents);
            if (_extents.Count == 1 && _extents[0].Hole)
            {
                // All hole: no I/O at all, one OFFSET_HOLE chunk.
                _replies.Enqueue(NbdReplies.Hole(request.Cookie, done: true, request.Offset, request.Length));
                return null;
            }

            if (_extents.Count > 1 && _extents[^1].Offset + _extents[^1].Length == offset + length)
            {
                // Data and holes in one read (rare): an array of its own, kept across the I/O.
                worker.Mixed = [.. _extents];
            }
        }

        if (worker.Mixed is null && TryReadFromView(request))
        {
            return null;
        }

        return NbdBufferPool.Rent(NbdExportIo.Span(_export, offset, length).Length);
    }

    /// <summary>
    /// A page-cache export's READ whose pages are all in memory: the reply's data is a slice of the export's mapping,
    /// which the send copies straight from the page cache into the socket (one copy, not two, and no ring read, no
    /// buffer). Not over TLS, whose encryption would read the slice in user space, and not when a page is out of
    /// memory, which the send would wait for on the loop: the ring's read fetches it without blocking anyone.
    /// </summary>
    private bool TryReadFromView(NbdRequest request)
    {
        long offset = (long)request.Offset;
        int length = (int)request.Length;
        if (_export.View is not { } view || _transport.IsTls || length > BlockFileView.MaxSliceLength || offset > view.Length - length)
        {
            return false;
        }

        NbdReplySegment data;
        try
        {
            if (!view.IsResident(offset, length))
            {
                return false;
            }

            // Pinned now, not only by the send: a server stopping after its drain timeout disposes the export while
            // replies may still be queued, and the mapping must outlive them.
            var slice = view.Slice(offset, length);
            data = new NbdReplySegment(slice, null, null, slice.Pin());
        }
        catch (Exception ex) when (ex is AioException or ObjectDisposedException)
        {
            // mincore failed, or the export is closing: the ring's read answers (or fails) as it would have.
            return false;
        }

        _replies.Enqueue(_session.Structured ? NbdReplies.DataHeader(request.Cookie, done: true, request.Offset, length) : NbdReplies.Simple(request.Cookie, 0), data);
        ReadsFromView++;
        return true;
    }

    /// <summary>Queues the reply of a READ whose data is in <paramref name="buffer"/>; the reply gives the buffer back.</summary>
    private void FinishRead(NbdRequest request, AlignedBuffer buffer, NbdExtent[]? mixed)
    {
        long offset = (long)request.Offset;
        int length = (int)request.Length;
        var data = buffer.Memory.Slice(NbdExportIo.Span(_export, offset, length).Skip, length);
        if (!_session.Structured)
        {
            _replies.Enqueue(NbdReplies.Simple(request.Cookie, 0), new NbdReplySegment(data, null, buffer));
            return;
        }

        if (mixed is null)
        {
            _replies.Enqueue(NbdReplies.DataHeader(request.Cookie, done: true, request.Offset, length), new NbdReplySegment(data, null, buffer));
            return;
        }

        // One chunk per extent; the buffer goes back with the last one (sent last).
        for (int i = 0; i < mixed.Length; i++)
        {
            var extent = mixed[i];
            bool last = i == mixed.Length - 1;
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
        var extents = _extents;
        extents.Clear();
        _export.GetExtents(offset, end, one ? 1 : NbdProtocol.MaxExtentsPerReply, extents);
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
}
