using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>Theory data: every transport, or the ones that really serve (no refused run).</summary>
public static class Transports
{
    public static TheoryData<TransportKind> All => new() { TransportKind.Sockets, TransportKind.AioThreadPool, TransportKind.AioLoop, TransportKind.AioRefused };

    public static TheoryData<TransportKind> Serving => new() { TransportKind.Sockets, TransportKind.AioThreadPool, TransportKind.AioLoop };
}
