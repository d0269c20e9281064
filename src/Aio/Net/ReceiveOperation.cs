namespace Aio.Net;

/// <summary>The receive side of an <see cref="AioSocket"/>: one pending <c>ReceiveAsync</c> at a time.</summary>
internal abstract class ReceiveOperation : SocketOperation
{
    protected ReceiveOperation(AioSocket socket)
        : base(socket.Context, "recv")
    {
        Socket = socket;
    }

    protected AioSocket Socket { get; }

    /// <summary>Where the pending receive puts its bytes.</summary>
    protected Memory<byte> Buffer { get; private set; }

    /// <summary>True when the kernel holds no request of this side (the socket may close).</summary>
    public abstract bool KernelIdle { get; }

    /// <summary>Starts a receive into <paramref name="buffer"/>. Any thread.</summary>
    public ValueTask<int> Receive(Memory<byte> buffer, CancellationToken ct)
    {
        Begin(ct, "receive");
        Buffer = buffer;
        short version = Version;
        Dispatch();
        return new ValueTask<int>(this, version);
    }

    /// <summary>Loop thread: the socket is closing; end the pending receive with <paramref name="reason"/> and stop kernel work.</summary>
    public abstract void BeginClose(Exception reason);

    /// <summary>
    /// Loop thread: bytes the peer sent are held here, out of the socket's queue, unread (the ring's provided buffers).
    /// False on the readiness path, where unread bytes stay in the kernel.
    /// </summary>
    public virtual bool HoldsUnreadData => false;

    /// <summary>Loop thread, after <see cref="KernelIdle"/>: give back whatever the side still holds.</summary>
    public virtual void Release()
    {
    }

    /// <summary>Loop thread: publishes <paramref name="count"/> bytes (0: end of stream) and forgets the buffer.</summary>
    protected void Deliver(int count)
    {
        Buffer = default;
        Complete(count);
    }

    /// <summary>Loop thread: ends the pending receive with <see cref="OperationCanceledException"/> and forgets the buffer.</summary>
    protected void DeliverCancelled()
    {
        Buffer = default;
        FailCancelled();
    }

    /// <summary>Loop thread: ends the pending receive with an error and forgets the buffer.</summary>
    protected void DeliverError(Exception error)
    {
        Buffer = default;
        Fail(error);
    }
}
