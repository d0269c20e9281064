namespace Aio.Async;

/// <summary>
/// The life of one use of a pooled <see cref="RingOperation"/>. The legal transitions, and who makes them:
/// <code>
///   Idle      -> InFlight    Start, on the renting thread, before the token registration and the hand-over to the loop
///   InFlight  -> Idle        Start, when the hand-over threw (nothing reached the loop); the object is then dropped
///   InFlight  -> Completed   the loop (completion, prepare failure) or a disposing thread (abandonment); compare-exchange,
///                            because abandonment may run on another thread than the loop
///   Completed -> Idle        GetResult, on the awaiter's thread, once the result is published; compare-exchange, so a
///                            second GetResult (same or old token) cannot release anything twice
/// </code>
/// Every other edge is refused: a completion for an operation that is not <see cref="InFlight"/> is ignored, and
/// GetResult on one that is not <see cref="Completed"/> throws without touching it. The token registration lives only
/// within InFlight: it is made before the hand-over and disposed (waiting for a callback already running) on the way
/// to Completed or back to Idle, so no callback can outlive the use it was made for.
/// </summary>
internal enum OperationState
{
    /// <summary>In the pool, or being set up by the renting thread.</summary>
    Idle,

    /// <summary>Handed to the loop: queued, in the kernel, or being resubmitted. Buffer pinned, file referenced.</summary>
    InFlight,

    /// <summary>The result (or error) is published; resources are released; waiting for GetResult.</summary>
    Completed,
}
