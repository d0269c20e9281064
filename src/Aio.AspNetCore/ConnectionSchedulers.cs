using System.IO.Pipelines;

namespace Aio.AspNetCore;

/// <summary>
/// The one place scheduling is decided: which scheduler runs each side of a connection's two pipes. The transport's
/// own ends (input writer, output reader) are always the loop, so its pumps never leave the loop; Kestrel's ends are
/// the thread pool or the loop by mode.
/// </summary>
internal readonly record struct ConnectionSchedulers(
    PipeScheduler InputReader,
    PipeScheduler InputWriter,
    PipeScheduler OutputReader,
    PipeScheduler OutputWriter)
{
    public static ConnectionSchedulers For(AioSchedulingMode mode, LoopPipeScheduler loop) => mode switch
    {
        AioSchedulingMode.Loop => new(loop.App, loop, loop.Deferred, loop.App),
        _ => new(PipeScheduler.ThreadPool, loop, loop, PipeScheduler.ThreadPool),
    };
}
