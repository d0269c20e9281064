using System.Runtime.InteropServices;
using Aio.Uring;

namespace Aio;

/// <summary>
/// The kernel's <c>struct io_uring_sqe</c> (64 bytes). An <c>AioContext.AddSqe</c> preparer receives a reference to
/// an entry inside the mapped submission queue, already zeroed, and fills it with one of the <c>Prep*</c>
/// helpers or the raw properties. <c>user_data</c> is not exposed: the context owns it.
/// </summary>
/// <remarks>Each <c>Prep*</c> helper resets the whole entry first, so set <see cref="Flags"/> and other extras after it.</remarks>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct Sqe
{
    [FieldOffset(0)] private byte _opcode;
    [FieldOffset(1)] private byte _flags;
    [FieldOffset(2)] private ushort _ioprio;
    [FieldOffset(4)] private int _fd;
    [FieldOffset(8)] private ulong _off;
    [FieldOffset(16)] private ulong _addr;
    [FieldOffset(24)] private uint _len;
    [FieldOffset(28)] private uint _opFlags;
    [FieldOffset(32)] private ulong _userData;
    [FieldOffset(40)] private ushort _bufIndex;
    [FieldOffset(42)] private ushort _personality;
    [FieldOffset(44)] private int _spliceFdIn;
    [FieldOffset(48)] private ulong _addr3;
    [FieldOffset(56)] private ulong _pad2;

    /// <summary><c>opcode</c>.</summary>
    public IoUringOpcode Opcode { readonly get => (IoUringOpcode)_opcode; set => _opcode = (byte)value; }

    /// <summary><c>flags</c> (IOSQE_*).</summary>
    public SqeFlags Flags { readonly get => (SqeFlags)_flags; set => _flags = (byte)value; }

    /// <summary><c>ioprio</c> (also accept/recv multishot bits for those opcodes).</summary>
    public ushort IoPriority { readonly get => _ioprio; set => _ioprio = value; }

    /// <summary><c>fd</c>.</summary>
    public int Fd { readonly get => _fd; set => _fd = value; }

    /// <summary><c>off</c> / <c>addr2</c>.</summary>
    public ulong Offset { readonly get => _off; set => _off = value; }

    /// <summary><c>addr</c> / <c>splice_off_in</c>.</summary>
    public ulong Address { readonly get => _addr; set => _addr = value; }

    /// <summary><c>len</c>.</summary>
    public uint Length { readonly get => _len; set => _len = value; }

    /// <summary>The per-opcode flags word: <c>rw_flags</c>, <c>fsync_flags</c>, <c>poll32_events</c>, <c>timeout_flags</c>, ...</summary>
    public uint OpFlags { readonly get => _opFlags; set => _opFlags = value; }

    /// <summary><c>buf_index</c> / <c>buf_group</c>.</summary>
    public ushort BufferIndex { readonly get => _bufIndex; set => _bufIndex = value; }

    /// <summary><c>personality</c>.</summary>
    public ushort Personality { readonly get => _personality; set => _personality = value; }

    /// <summary><c>splice_fd_in</c> / <c>file_index</c>.</summary>
    public int SpliceFdIn { readonly get => _spliceFdIn; set => _spliceFdIn = value; }

    /// <summary><c>addr3</c>.</summary>
    public ulong Address3 { readonly get => _addr3; set => _addr3 = value; }

    /// <summary><c>user_data</c>: the context's, never the user's.</summary>
    internal ulong UserData { readonly get => _userData; set => _userData = value; }

    /// <summary>IORING_OP_NOP: completes with result 0 and does nothing else.</summary>
    public void PrepNop() => PrepRw(IoUringOpcode.Nop, -1, 0, 0, 0);

    /// <summary>IORING_OP_READ: <c>pread(fd, buffer, length, offset)</c>; <paramref name="offset"/> <c>ulong.MaxValue</c> reads at the file position.</summary>
    /// <remarks>The memory at <paramref name="buffer"/> must stay valid until the completion arrives.</remarks>
    public void PrepRead(int fd, nint buffer, uint length, ulong offset) => PrepRw(IoUringOpcode.Read, fd, (ulong)buffer, length, offset);

    /// <summary>IORING_OP_WRITE: <c>pwrite(fd, buffer, length, offset)</c>.</summary>
    public void PrepWrite(int fd, nint buffer, uint length, ulong offset) => PrepRw(IoUringOpcode.Write, fd, (ulong)buffer, length, offset);

    /// <summary>IORING_OP_READ_FIXED (5.1): <paramref name="buffer"/> lies in registered buffer <paramref name="bufferIndex"/>.</summary>
    public void PrepReadFixed(int fd, nint buffer, uint length, ulong offset, ushort bufferIndex)
    {
        PrepRw(IoUringOpcode.ReadFixed, fd, (ulong)buffer, length, offset);
        _bufIndex = bufferIndex;
    }

    /// <summary>IORING_OP_WRITE_FIXED (5.1): <paramref name="buffer"/> lies in registered buffer <paramref name="bufferIndex"/>.</summary>
    public void PrepWriteFixed(int fd, nint buffer, uint length, ulong offset, ushort bufferIndex)
    {
        PrepRw(IoUringOpcode.WriteFixed, fd, (ulong)buffer, length, offset);
        _bufIndex = bufferIndex;
    }

    /// <summary>IORING_OP_READV: <c>preadv(fd, iovecs, count, offset)</c>. The iovec array must stay valid until submission (5.5+ copies it then).</summary>
    public void PrepReadv(int fd, nint iovecs, uint count, ulong offset) => PrepRw(IoUringOpcode.Readv, fd, (ulong)iovecs, count, offset);

    /// <summary>IORING_OP_WRITEV: <c>pwritev(fd, iovecs, count, offset)</c>.</summary>
    public void PrepWritev(int fd, nint iovecs, uint count, ulong offset) => PrepRw(IoUringOpcode.Writev, fd, (ulong)iovecs, count, offset);

    /// <summary>IORING_OP_FSYNC: <c>fsync</c>, or <c>fdatasync</c> when <paramref name="dataOnly"/>.</summary>
    public void PrepFsync(int fd, bool dataOnly)
    {
        PrepRw(IoUringOpcode.Fsync, fd, 0, 0, 0);
        _opFlags = dataOnly ? IoUringConstants.FsyncDatasync : 0;
    }

    /// <summary>
    /// IORING_OP_FALLOCATE (5.6): <c>fallocate(fd, mode, offset, length)</c>. The kernel has no non-blocking fallocate,
    /// so the ring always runs it on an io-wq worker: the submitter never waits for it.
    /// </summary>
    public void PrepFallocate(int fd, int mode, ulong offset, ulong length)
    {
        // The layout liburing's io_uring_prep_fallocate uses: the mode in len, the length in addr.
        PrepRw(IoUringOpcode.Fallocate, fd, length, (uint)mode, offset);
    }

    /// <summary>
    /// IORING_OP_POLL_ADD: completes with the ready events (a <see cref="PollEvents"/> mask) once <paramref name="fd"/> is ready.
    /// </summary>
    /// <remarks>
    /// A <paramref name="multishot"/> poll (5.13+) posts a completion with <see cref="Cqe.HasMore"/> per event but is
    /// edge-triggered after the first: an fd that stays readable is not reported again. Do not use it for
    /// level-triggered semantics (QEMU's FUSE export hung on exactly that).
    /// </remarks>
    public void PrepPollAdd(int fd, PollEvents events, bool multishot = false)
    {
        PrepRw(IoUringOpcode.PollAdd, fd, 0, multishot ? IoUringConstants.PollAddMulti : 0, 0);

        // poll32_events is stored in little-endian order (the kernel swaps it on big-endian hosts).
        _opFlags = (ushort)events;
    }

    /// <summary>IORING_OP_POLL_REMOVE of the poll request whose <c>user_data</c> is <paramref name="targetUserData"/>.</summary>
    /// <remarks>Requests submitted through <c>AddSqe</c> carry context-owned user data; this is for rings driven directly.</remarks>
    public void PrepPollRemove(ulong targetUserData) => PrepRw(IoUringOpcode.PollRemove, -1, targetUserData, 0, 0);

    /// <summary>IORING_OP_ASYNC_CANCEL of the request whose <c>user_data</c> is <paramref name="targetUserData"/>.</summary>
    public void PrepCancel(ulong targetUserData, uint flags = 0)
    {
        PrepRw(IoUringOpcode.AsyncCancel, -1, targetUserData, 0, 0);
        _opFlags = flags;
    }

    /// <summary>IORING_OP_ASYNC_CANCEL (5.19+) of the requests on <paramref name="fd"/>: the first, or all of them.</summary>
    public void PrepCancelFd(int fd, bool all)
    {
        PrepRw(IoUringOpcode.AsyncCancel, fd, 0, 0, 0);
        _opFlags = IoUringConstants.AsyncCancelFd | (all ? IoUringConstants.AsyncCancelAll : 0);
    }

    /// <summary>IORING_OP_TIMEOUT: completes after <paramref name="kernelTimespec"/> (a <c>__kernel_timespec*</c>) or after <paramref name="count"/> other completions.</summary>
    /// <remarks>A timer that expires completes with <c>-ETIME</c>; the timespec must stay valid until submission.</remarks>
    public void PrepTimeout(nint kernelTimespec, uint count, uint flags)
    {
        PrepRw(IoUringOpcode.Timeout, -1, (ulong)kernelTimespec, 1, count);
        _opFlags = flags;
    }

    /// <summary>IORING_OP_ACCEPT: <c>accept4(fd, address, addressLength, flags)</c>.</summary>
    public void PrepAccept(int fd, nint address, nint addressLength, int flags)
    {
        PrepRw(IoUringOpcode.Accept, fd, (ulong)address, 0, (ulong)addressLength);
        _opFlags = (uint)flags;
    }

    /// <summary>IORING_OP_CONNECT: <c>connect(fd, address, addressLength)</c>.</summary>
    public void PrepConnect(int fd, nint address, uint addressLength) => PrepRw(IoUringOpcode.Connect, fd, (ulong)address, 0, addressLength);

    /// <summary>IORING_OP_RECV: <c>recv(fd, buffer, length, flags)</c>.</summary>
    public void PrepRecv(int fd, nint buffer, uint length, int flags)
    {
        PrepRw(IoUringOpcode.Recv, fd, (ulong)buffer, length, 0);
        _opFlags = (uint)flags;
    }

    /// <summary>IORING_OP_SEND: <c>send(fd, buffer, length, flags)</c>.</summary>
    public void PrepSend(int fd, nint buffer, uint length, int flags)
    {
        PrepRw(IoUringOpcode.Send, fd, (ulong)buffer, length, 0);
        _opFlags = (uint)flags;
    }

    /// <summary>IORING_OP_CLOSE: <c>close(fd)</c>.</summary>
    public void PrepClose(int fd) => PrepRw(IoUringOpcode.Close, fd, 0, 0, 0);

    private void PrepRw(IoUringOpcode opcode, int fd, ulong addr, uint len, ulong off)
    {
        this = default;
        _opcode = (byte)opcode;
        _fd = fd;
        _addr = addr;
        _len = len;
        _off = off;
    }
}
