using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Aio.Tests.AspNetCore;

/// <summary>Kestrel's pool factory is internal: the transport-level tests hand it the shared array pool.</summary>
public sealed class TestMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => MemoryPool<byte>.Shared;
}
