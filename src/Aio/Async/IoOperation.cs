using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Aio.Async;

/// <summary>READ, WRITE, FSYNC, FALLOCATE and POLL_ADD as awaitable ring requests, pooled per thread.</summary>
internal sealed class IoOperation : RingOperation, IValueTaskSource<PollEvents>
{
    private static readonly SqePreparer<IoOperation> s_prepare = static (ref Sqe sqe, IoOperation op) => op.Prepare(ref sqe);

    private IoUringOpcode _opcode;
    private nint _address;
    private uint _length;
    private ulong _offset;
    private uint _opFlags;
    private ulong _length64;

    public static IoOperation Rent() => OperationPool<IoOperation>.Rent();

    public ValueTask<int> Read(AioContext ctx, SafeHandle file, Memory<byte> buffer, long offset, CancellationToken ct)
    {
        var pin = buffer.Pin();
        return Begin(ctx, file, pin, buffer, IoUringOpcode.Read, pin.Address(), (uint)buffer.Length, (ulong)offset, 0, "read", ct);
    }

    public ValueTask<int> Write(AioContext ctx, SafeHandle file, ReadOnlyMemory<byte> buffer, long offset, CancellationToken ct)
    {
        var pin = buffer.Pin();
        return Begin(ctx, file, pin, buffer, IoUringOpcode.Write, pin.Address(), (uint)buffer.Length, (ulong)offset, 0, "write", ct);
    }

    public ValueTask Fsync(AioContext ctx, SafeHandle file, bool dataOnly, CancellationToken ct)
    {
        short version = Version;
        _ = Begin(ctx, file, default, default, IoUringOpcode.Fsync, 0, 0, 0, dataOnly ? 1u : 0u, dataOnly ? "fdatasync" : "fsync", ct);

        // Same source and token, awaited through the non-generic interface: still no allocation.
        return new ValueTask(this, version);
    }

    /// <summary>fallocate; completes with 0 or the negated errno (not thrown: callers tell "not supported" apart).</summary>
    public ValueTask<int> Fallocate(AioContext ctx, SafeHandle file, int mode, long offset, long length, string name, CancellationToken ct)
    {
        // The mode travels in _length, where the entry carries it; the length in addr, where the entry carries that.
        _length64 = (ulong)length;
        return Begin(ctx, file, default, default, IoUringOpcode.Fallocate, 0, (uint)mode, (ulong)offset, 0, name, ct);
    }

    public ValueTask<PollEvents> PollAdd(AioContext ctx, SafeHandle fd, PollEvents events, CancellationToken ct)
    {
        short version = Version;
        _ = Begin(ctx, fd, default, default, IoUringOpcode.PollAdd, 0, 0, 0, (ushort)events, "poll", ct);

        // The same source seen as returning PollEvents: no wrapper, no allocation.
        return new ValueTask<PollEvents>(this, version);
    }

    PollEvents IValueTaskSource<PollEvents>.GetResult(short token) => (PollEvents)(short)GetResult(token);

    protected override void SubmitSelf(AioContext context) => context.AddSqe(s_prepare, this, this);

    protected override void ReturnToPool()
    {
        _address = 0;
        OperationPool<IoOperation>.Return(this);
    }

    private ValueTask<int> Begin(AioContext ctx, SafeHandle file, MemoryHandle pin, ReadOnlyMemory<byte> pinned, IoUringOpcode opcode, nint address, uint length, ulong offset, uint opFlags, string name, CancellationToken ct)
    {
        _opcode = opcode;
        _address = address;
        _length = length;
        _offset = offset;
        _opFlags = opFlags;
        Name = name;
        ThrowOnNegative = opcode != IoUringOpcode.Fallocate;
        short version = Version;
        Start(ctx, file, pin, pinned, ct);
        return new ValueTask<int>(this, version);
    }

    private void Prepare(ref Sqe sqe)
    {
        int fd = FileDescriptor;
        switch (_opcode)
        {
            case IoUringOpcode.Read:
                sqe.PrepRead(fd, _address, _length, _offset);
                break;
            case IoUringOpcode.Write:
                sqe.PrepWrite(fd, _address, _length, _offset);
                break;
            case IoUringOpcode.Fsync:
                sqe.PrepFsync(fd, _opFlags != 0);
                break;
            case IoUringOpcode.Fallocate:
                sqe.PrepFallocate(fd, (int)_length, _offset, _length64);
                break;
            default:
                sqe.PrepPollAdd(fd, (PollEvents)(short)_opFlags);
                break;
        }
    }
}
