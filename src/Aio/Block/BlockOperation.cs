using System.Runtime.InteropServices;
using System.Buffers;
using Aio.Async;
using Aio.Interop;

namespace Aio.Block;

/// <summary>
/// One BlockFile read or write on the ring, with QEMU's io_uring driver semantics (block/io_uring.c): EINTR/EAGAIN
/// resubmit; a short read resubmits the remainder, and end of file zero-fills it; a short write resubmits the
/// remainder, and a write that makes no progress fails with ENOSPC. Pooled per thread.
/// </summary>
internal sealed class BlockOperation : RingOperation
{
    private static readonly SqePreparer<BlockOperation> s_prepare = static (ref Sqe sqe, BlockOperation op) => op.Prepare(ref sqe);

    private Memory<byte> _buffer;
    private nint _address;
    private int _total;
    private int _done;
    private long _offset;
    private bool _write;
    private int _alignment;
    private FixedFileSlot? _fixedSlot;
    // The slot the SQE in flight names (set when prepared with it, cleared by its completion): it is not given back
    // while the kernel may still look it up.
    private FixedFileSlot? _slotInUse;
    private AlignedBuffer? _alignedBuffer;

    // The context whose loop counts this request as in flight for its busy-poll (AioContext.RingPolling.cs): set when
    // the request is prepared into its ring, cleared by its completion, so each SQE is counted out exactly once.
    private AioContext? _polledBy;

    public static BlockOperation Rent() => OperationPool<BlockOperation>.Rent();

    public ValueTask<int> Start(AioContext ctx, SafeFileHandleRef file, FixedFileSlot? fixedSlot, Memory<byte> buffer, MemoryHandle pin, long offset, bool write, int alignment, CancellationToken ct)
    {
        _fixedSlot = fixedSlot;
        _alignedBuffer = MemoryMarshal.TryGetMemoryManager<byte, AlignedBuffer>(buffer, out var manager) ? manager : null;
        _buffer = buffer;
        _address = pin.Address();
        _total = buffer.Length;
        _done = 0;
        _offset = offset;
        _write = write;
        _alignment = alignment;
        Name = write ? "write" : "read";
        ThrowOnNegative = true;
        short version = Version;
        Start(ctx, file.Handle, pin, buffer, ct);
        return new ValueTask<int>(this, version);
    }

    protected override void SubmitSelf(AioContext context) => context.AddSqe(s_prepare, this, this);

    protected internal override void OnCompletion(in Cqe cqe)
    {
        // First: a resubmission inside the base (a short transfer, EAGAIN) is prepared, and counted, again.
        if (_polledBy is { } polledBy)
        {
            _polledBy = null;
            polledBy.OnPollableCompleted();
        }

        if (_slotInUse is { } slotInUse)
        {
            _slotInUse = null;
            slotInUse.OnRequestCompleted();
        }

        base.OnCompletion(in cqe);
    }

    protected override bool Continue(ref int result)
    {
        if (result == -Errno.EINTR || result == -Errno.EAGAIN)
        {
            Resubmit();
            return true;
        }

        if (result < 0)
        {
            return false;
        }

        if (_write)
        {
            if (result == 0 && _done < _total)
            {
                result = -Errno.ENOSPC;
                return false;
            }

            _done += result;
            if (_done < _total && _alignment > 1 && _done % _alignment != 0)
            {
                // A short O_DIRECT write that stopped off the alignment (a full device or quota): its remainder could
                // only be refused with EINVAL. The space ran out, as QEMU reports a short write.
                result = -Errno.ENOSPC;
                return false;
            }
        }
        else
        {
            _done += result;
            bool aligned = _alignment <= 1 || _done % _alignment == 0;
            if (result == 0 || !aligned)
            {
                // End of file (an unaligned short O_DIRECT read can only be that): pad with zeroes, like QEMU.
                try
                {
                    _buffer.Span[_done..].Clear();
                }
                catch (ObjectDisposedException)
                {
                    // The caller disposed its buffer (an AlignedBuffer) with the read in flight: nobody can read the
                    // padding, and the memory stays allocated until this operation unpins it.
                }
                _done = _total;
            }
        }

        if (_done < _total)
        {
            Resubmit();
            return true;
        }

        result = _total;
        return false;
    }

    protected override void ReturnToPool()
    {
        _buffer = default;
        _address = 0;
        _fixedSlot = null;
        _slotInUse = null;
        _alignedBuffer = null;
        _polledBy = null;
        OperationPool<BlockOperation>.Return(this);
    }

    private void Prepare(ref Sqe sqe)
    {
        int fd = FileDescriptor;
        nint address = _address + _done;
        uint length = (uint)(_total - _done);
        ulong offset = (ulong)(_offset + _done);
        bool fixedFile = false;
        if (_fixedSlot is { } fixedSlot && fixedSlot.TryGet(out int slot))
        {
            fd = slot;
            fixedFile = true;
        }

        if (_alignedBuffer is { } aligned && aligned.TryGetRegisteredSlot(Context, out ushort bufferSlot))
        {
            // A registered buffer: the kernel pinned its pages once, at registration, instead of on every request.
            if (_write)
            {
                sqe.PrepWriteFixed(fd, address, length, offset, bufferSlot);
            }
            else
            {
                sqe.PrepReadFixed(fd, address, length, offset, bufferSlot);
            }
        }
        else if (_write)
        {
            sqe.PrepWrite(fd, address, length, offset);
        }
        else
        {
            sqe.PrepRead(fd, address, length, offset);
        }

        if (fixedFile)
        {
            sqe.Flags |= SqeFlags.FixedFile;
            _slotInUse = _fixedSlot;
            _slotInUse!.OnRequestPrepared();
        }

        _polledBy = Context;
        _polledBy.OnPollableSubmitted();
    }
}
