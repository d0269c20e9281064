namespace Aio.Monitors;

/// <summary>An <c>AddSqe</c> from a foreign thread, waiting for the home thread to prepare it into the ring.</summary>
internal abstract class PendingSqe
{
    protected PendingSqe(CqeHandler handler) => Handler = handler;

    public CqeHandler Handler { get; }

    /// <summary>Set at Dispose: never submitted; the handler was told.</summary>
    public bool Abandoned { get; set; }

    /// <summary>Runs the caller's preparer on the home thread.</summary>
    public abstract void Prepare(ref Sqe sqe);
}
