namespace Aio.Monitors;

/// <summary>What a ring request in the <see cref="RequestTable"/> is for.</summary>
internal enum RequestKind : byte
{
    /// <summary>A one-shot POLL_ADD watching an fd handler.</summary>
    FdPoll = 1,

    /// <summary>A request from <c>AddSqe</c>, completed through a <see cref="CqeHandler"/>.</summary>
    User = 2,
}
