using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Aio.AspNetCore;

/// <summary>
/// Accept failures that are not the peer's doing (EMFILE or ENFILE at the fd limit, ENOBUFS, ENOMEM, EPERM from a
/// security module): an exception out of AcceptAsync ends Kestrel's accept loop for good, so the listener logs the
/// first failure of a run at Warning (the rest at Debug), waits a little, and accepts again; an fd limit clears when
/// connections close, and a spin would only burn the core those connections need. One per accept loop; not
/// thread-safe (each loop accepts one connection at a time).
/// </summary>
internal sealed class AcceptFailures
{
    /// <summary>How long an accept loop waits after a failure before it tries again.</summary>
    internal static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(10);

    private static long s_total;

    private readonly ILogger _logger;
    private readonly string _endPoint;
    private bool _failing;

    public AcceptFailures(ILogger logger, string endPoint)
    {
        _logger = logger;
        _endPoint = endPoint;
    }

    /// <summary>Failed accepts in this process so far (for tests: with the back-off, one per <see cref="Backoff"/> and listener at most).</summary>
    internal static long Total => Interlocked.Read(ref s_total);

    /// <summary>Logs <paramref name="ex"/> and waits <see cref="Backoff"/>.</summary>
    public Task OnFailureAsync(SocketException ex, CancellationToken ct)
    {
        Interlocked.Increment(ref s_total);
        if (!_failing)
        {
            _failing = true;
            Log.AcceptRetrying(_logger, ex, _endPoint, ex.SocketErrorCode);
        }
        else
        {
            Log.AcceptStillFailing(_logger, _endPoint, ex.SocketErrorCode);
        }

        return Task.Delay(Backoff, ct);
    }

    /// <summary>An accept succeeded: the next failure is logged at Warning again.</summary>
    public void OnSuccess() => _failing = false;
}
