namespace Aio.Tests.Context;

/// <summary>Every kind of user callback a loop iteration runs.</summary>
public enum CallbackKind
{
    /// <summary>A scheduled <see cref="Aio.BottomHalf"/>.</summary>
    BottomHalf,

    /// <summary><see cref="AioContext.ScheduleOneShot(Action)"/>.</summary>
    OneShot,

    /// <summary>An expired <see cref="AioTimer"/>.</summary>
    Timer,

    /// <summary>An fd read handler.</summary>
    FdRead,

    /// <summary>An fd write handler.</summary>
    FdWrite,

    /// <summary>A busy-poll check (the <c>poll</c> callback of adaptive polling).</summary>
    Poll,

    /// <summary>The <c>pollReady</c> callback that runs when a busy-poll check saw work.</summary>
    PollReady,

    /// <summary><see cref="CqeHandler"/>'s completion callback (io_uring only).</summary>
    Completion,

    /// <summary>Work started with <see cref="AioContext.InvokeAsync(Func{Task})"/>.</summary>
    InvokeAsync,
}
