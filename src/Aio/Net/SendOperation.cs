using System.Buffers;
using Aio.Async;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// The send side of an <see cref="AioSocket"/>: one pending <c>SendAsync</c> at a time, which ends only when every
/// byte was sent (or with an error). The segments are pinned and described by an iovec list in native memory
/// (<see cref="GatherList"/>) for as long as the kernel may read them.
/// </summary>
internal abstract class SendOperation : SocketOperation
{
    // Each pinned segment with its pin: the memory is kept for good if the kernel may still read it (KernelHeldMemory).
    private readonly List<(ReadOnlyMemory<byte> Memory, MemoryHandle Pin)> _pins = [];

    // Taken by the sender while it fills the iovec list and by Release: they may run on different threads (see Release).
    private readonly Lock _fill = new();
    private bool _released;
    private long _total;

    protected SendOperation(AioSocket socket)
        : base(socket.Context, "send")
    {
        Socket = socket;
    }

    protected AioSocket Socket { get; }

    /// <summary>The segments left to send, from <see cref="Index"/> on.</summary>
    protected GatherList Gather { get; } = new();

    /// <summary>The first segment not fully sent.</summary>
    protected int Index { get; private set; }

    /// <summary>Every byte was sent.</summary>
    protected bool Done => Index == Gather.Count;

    /// <summary>The flags this use adds to every send it makes: MSG_MORE when the caller said more follows, else 0.</summary>
    protected int MsgFlags { get; private set; }

    /// <summary>True when the kernel holds no request of this side (the socket may close).</summary>
    public abstract bool KernelIdle { get; }

    /// <summary>The native iovec list is allocated (for tests).</summary>
    internal bool ListAllocated => Gather.HeaderAddress != 0;

    /// <summary>Sends all of <paramref name="buffer"/>, with MSG_MORE if <paramref name="more"/>. Any thread.</summary>
    public ValueTask<int> Send(ReadOnlyMemory<byte> buffer, bool more, CancellationToken ct)
    {
        Begin(ct, "send");
        short version = Version;
        lock (_fill)
        {
            if (_released)
            {
                FailReleased();
                return new ValueTask<int>(this, version);
            }

            Reset();
            MsgFlags = more ? Libc.MSG_MORE : 0;
            try
            {
                Add(buffer);
            }
            catch (Exception ex)
            {
                FailFill(ex);
                return new ValueTask<int>(this, version);
            }
        }

        Dispatch();
        return new ValueTask<int>(this, version);
    }

    /// <summary>Sends every segment of <paramref name="buffers"/>, gathered, with MSG_MORE if <paramref name="more"/>. Any thread.</summary>
    public ValueTask Send(in ReadOnlySequence<byte> buffers, bool more, CancellationToken ct)
    {
        Begin(ct, "send");
        short version = Version;
        lock (_fill)
        {
            if (_released)
            {
                FailReleased();
                return new ValueTask(this, version);
            }

            Reset();
            MsgFlags = more ? Libc.MSG_MORE : 0;
            try
            {
                foreach (var segment in buffers)
                {
                    if (!segment.IsEmpty)
                    {
                        Add(segment);
                    }
                }
            }
            catch (Exception ex)
            {
                FailFill(ex);
                return new ValueTask(this, version);
            }
        }

        Dispatch();
        return new ValueTask(this, version);
    }

    /// <summary>Loop thread: the socket is closing; end the pending send with <paramref name="reason"/> and stop kernel work.</summary>
    public abstract void BeginClose(Exception reason);

    /// <summary>
    /// Loop thread, once the kernel is idle: frees the native iovec list. A sender on another thread may be filling it
    /// for a use the loop has not seen yet (it passed the disposed check just before the close); the lock keeps the
    /// free from landing under that fill, and a fill that comes after it finds the list released and fails its use.
    /// </summary>
    public void Release()
    {
        lock (_fill)
        {
            _released = true;
            ReleasePins();
            Gather.Dispose();
        }
    }

    /// <summary>Loop thread: the kernel took <paramref name="bytes"/> more.</summary>
    protected void Advance(long bytes)
    {
        while (bytes > 0 && Index < Gather.Count)
        {
            long left = Gather.LengthAt(Index);
            if (bytes >= left)
            {
                bytes -= left;
                Index++;
            }
            else
            {
                Gather.Consume(Index, bytes);
                bytes = 0;
            }
        }
    }

    /// <summary>Loop thread: everything was sent.</summary>
    protected void Succeed()
    {
        ReleasePins();
        Complete((int)Math.Min(_total, int.MaxValue));
    }

    /// <summary>
    /// A send was ended by a close or by the context's teardown before all of it was sent: the socket's own close then
    /// resets the connection, as it does when a send is still pending (see <c>AioSocket.DisposeAsync</c>).
    /// </summary>
    public bool CutShort { get; private set; }

    /// <summary>Loop thread: the send failed (the pins are released: the kernel no longer reads them).</summary>
    protected void SendFailed(Exception error)
    {
        ReleasePins();
        if (error is ObjectDisposedException && IsPending)
        {
            CutShort = true;
        }

        Fail(error);
    }

    /// <summary>Loop thread: the send was cancelled.</summary>
    protected void SendCancelled()
    {
        ReleasePins();
        FailCancelled();
    }

    /// <summary>The kernel may still read the segments (abandoned in flight): keep them pinned for good.</summary>
    protected void ForgetPins()
    {
        foreach (var (memory, _) in _pins)
        {
            KernelHeldMemory.Keep(memory);
        }

        _pins.Clear();
    }

    /// <summary>
    /// The caller's thread, under the fill lock: a segment could not be pinned (a disposed <see cref="AlignedBuffer"/>
    /// or mapping). Gives back the pins already taken and ends the use with that exception, nothing sent, so the
    /// socket's next send starts from a clean state instead of finding this one pending for good.
    /// </summary>
    private void FailFill(Exception error)
    {
        ReleasePins();
        Reset();
        Fail(error);
    }

    /// <summary>The caller's thread: the socket closed between the caller's disposed check and the fill; ends the use.</summary>
    private void FailReleased() => Fail(new ObjectDisposedException(nameof(AioSocket), "The socket was disposed while the send was starting."));

    private void Reset()
    {
        Gather.Clear();
        Index = 0;
        _total = 0;
    }

    private void Add(ReadOnlyMemory<byte> segment)
    {
        var pin = segment.Pin();
        _pins.Add((segment, pin));
        Gather.Add(pin.Address(), segment.Length);
        _total += segment.Length;
    }

    private void ReleasePins()
    {
        // Under the fill lock (re-entrant, for Release): a finisher that loses to another (a failed hand-over on the
        // caller's thread against the context's dispose) still gets here while the caller may already fill the next use.
        lock (_fill)
        {
            foreach (var (_, pin) in _pins)
            {
                pin.Dispose();
            }

            _pins.Clear();
        }
    }
}
