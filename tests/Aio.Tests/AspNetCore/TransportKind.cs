namespace Aio.Tests.AspNetCore;

/// <summary>Which transport a test server runs: Kestrel's Sockets (the oracle), Aio in each scheduling mode, or Aio with io_uring refused (Sockets must serve).</summary>
public enum TransportKind
{
    Sockets,
    AioThreadPool,
    AioLoop,
    AioRefused,
}
