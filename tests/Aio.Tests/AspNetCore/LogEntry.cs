using Microsoft.Extensions.Logging;

namespace Aio.Tests.AspNetCore;

/// <summary>One captured log call.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level} {Category}[{EventId.Id}:{EventId.Name}] {Message} {Exception?.GetType().Name}";
}
