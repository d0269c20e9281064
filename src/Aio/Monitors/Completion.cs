namespace Aio.Monitors;

/// <summary>A user completion waiting in the context's ready queue (docs/DESIGN.md, loop step 6).</summary>
internal readonly record struct Completion(CqeHandler Handler, Cqe Cqe);
