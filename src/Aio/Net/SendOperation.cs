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
    private readonly List<MemoryHandle> _pins = [];
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

    /// <summary>True when the kernel holds no request of this side (the socket may close).</summary>
    public abstract bool KernelIdle { get; }

    /// <summary>Sends all of <paramref name="buffer"/>. Any thread.</summary>
    public ValueTask<int> Send(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        Begin(ct, "send");
        Reset();
        Add(buffer);
        short version = Version;
        Dispatch();
        return new ValueTask<int>(this, version);
    }

    /// <summary>Sends every segment of <paramref name="buffers"/>, gathered. Any thread.</summary>
    public ValueTask Send(in ReadOnlySequence<byte> buffers, CancellationToken ct)
    {
        Begin(ct, "send");
        Reset();
        foreach (var segment in buffers)
        {
            if (!segment.IsEmpty)
            {
                Add(segment);
            }
        }

        short version = Version;
        Dispatch();
        return new ValueTask(this, version);
    }

    /// <summary>Loop thread: the socket is closing; end the pending send with <paramref name="reason"/> and stop kernel work.</summary>
    public abstract void BeginClose(Exception reason);

    /// <summary>Loop thread, once the kernel is idle: frees the native iovec list.</summary>
    public void Release()
    {
        ReleasePins();
        Gather.Dispose();
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

    /// <summary>Loop thread: the send failed (the pins are released: the kernel no longer reads them).</summary>
    protected void SendFailed(Exception error)
    {
        ReleasePins();
        Fail(error);
    }

    /// <summary>Loop thread: the send was cancelled.</summary>
    protected void SendCancelled()
    {
        ReleasePins();
        FailCancelled();
    }

    /// <summary>The kernel may still read the segments (abandoned in flight): keep them pinned for good.</summary>
    protected void ForgetPins() => _pins.Clear();

    private void Reset()
    {
        Gather.Clear();
        Index = 0;
        _total = 0;
    }

    private void Add(ReadOnlyMemory<byte> segment)
    {
        var pin = segment.Pin();
        _pins.Add(pin);
        Gather.Add(pin.Address(), segment.Length);
        _total += segment.Length;
    }

    private void ReleasePins()
    {
        foreach (var pin in _pins)
        {
            pin.Dispose();
        }

        _pins.Clear();
    }
}
