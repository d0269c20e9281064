namespace Aio.Monitors;

/// <summary>An <c>AddSqe</c> from a foreign thread, waiting for the home thread to prepare it into the ring.</summary>
internal abstract class PendingSqe
{
    public CqeHandler Handler { get; protected set; } = null!;

    /// <summary>Runs the caller's preparer on the home thread.</summary>
    public abstract void Prepare(ref Sqe sqe);

    /// <summary>The home thread is done with it: back to the pool.</summary>
    public abstract void Return();
}
