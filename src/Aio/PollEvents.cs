namespace Aio;

/// <summary>poll(2) event bits (the values of <c>POLLIN</c>, <c>POLLPRI</c>, <c>POLLOUT</c>, <c>POLLERR</c>, <c>POLLHUP</c>).</summary>
[Flags]
public enum PollEvents : short
{
    /// <summary>No events.</summary>
    None = 0,

    /// <summary>POLLIN: data to read.</summary>
    In = 0x1,

    /// <summary>POLLPRI: urgent data.</summary>
    Pri = 0x2,

    /// <summary>POLLOUT: writing will not block.</summary>
    Out = 0x4,

    /// <summary>POLLERR: an error condition (always reported, never requested).</summary>
    Err = 0x8,

    /// <summary>POLLHUP: hang-up (always reported, never requested).</summary>
    Hup = 0x10,
}
