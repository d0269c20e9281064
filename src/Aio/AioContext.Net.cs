using Aio.Net;
using Aio.Uring;

namespace Aio;

// What the socket layer (Aio.Net) keeps per context.
public sealed partial class AioContext
{
    private NetLoop? _netLoop;

    /// <summary>The sockets' shared state on this loop (loop thread).</summary>
    internal NetLoop NetLoop => _netLoop ??= new NetLoop(this);

    /// <summary>The ring the sockets' buffer ring registers with; null without io_uring.</summary>
    internal Ring? RingForNet => _requests?.Ring;

    /// <summary>Called by Dispose after in-flight requests were cancelled or abandoned.</summary>
    private void DisposeNet()
    {
        _netLoop?.Dispose();
        _netLoop = null;
    }
}
