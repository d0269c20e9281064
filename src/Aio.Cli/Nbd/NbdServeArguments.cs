namespace Aio.Cli.Nbd;

/// <summary>The parsed command line of <c>aio nbd serve</c>.</summary>
internal sealed record NbdServeArguments
{
    public required string[] Exports { get; init; }

    public string? Socket { get; init; }

    public int? Port { get; init; }

    public string? Bind { get; init; }

    public bool ReadOnly { get; init; }

    public required string Cache { get; init; }

    public int Threads { get; init; }

    public int MaxConnections { get; init; }

    public string? Description { get; init; }

    public string? TlsCert { get; init; }

    public string? TlsKey { get; init; }

    public string? Tls { get; init; }

    public TimeSpan HandshakeTimeout { get; init; }

    public int RequestsInFlight { get; init; }

    public long BytesInFlight { get; init; }

    /// <summary>--poll-max-ns: the loops' busy-poll ceiling (0: never poll), or null for the default.</summary>
    public long? PollMaxNs { get; init; }
}
