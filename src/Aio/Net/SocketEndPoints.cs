using System.Net;
using System.Net.Sockets;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// <see cref="EndPoint"/> ↔ sockaddr bytes. On Linux a <see cref="SocketAddress"/> buffer holds the native sockaddr
/// (family in host order first), so serializing an end point gives exactly what bind/connect take.
/// </summary>
internal static class SocketEndPoints
{
    /// <summary>Largest sockaddr (sockaddr_storage).</summary>
    public const int MaxAddressLength = 128;

    /// <summary>The socket(2) domain for <paramref name="endPoint"/>.</summary>
    public static int Domain(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint { AddressFamily: AddressFamily.InterNetwork } => Libc.AF_INET,
        IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } => Libc.AF_INET6,
        UnixDomainSocketEndPoint => Libc.AF_UNIX,
        _ => throw new ArgumentException($"Only IPEndPoint and UnixDomainSocketEndPoint are supported, not {endPoint.GetType().Name}.", nameof(endPoint)),
    };

    /// <summary>The native sockaddr for <paramref name="endPoint"/>.</summary>
    public static byte[] Serialize(EndPoint endPoint)
    {
        var address = endPoint.Serialize();
        return address.Buffer.Span[..address.Size].ToArray();
    }

    /// <summary>
    /// The file a Unix-domain end point binds, as a full path (resolved now, as the bind resolves it), or null: not a
    /// Unix end point, or an abstract address, which has no file. ToString renders an abstract "\0name" as "@name",
    /// itself a legal relative file name, so the address bytes decide, not the string.
    /// </summary>
    public static string? SocketFilePath(EndPoint endPoint)
    {
        if (endPoint is not UnixDomainSocketEndPoint unix)
        {
            return null;
        }

        var address = unix.Serialize();
        const int PathOffset = 2; // sun_path follows the 2-byte sun_family
        if (address.Size <= PathOffset || address[PathOffset] == 0)
        {
            return null;
        }

        return Path.GetFullPath(unix.ToString());
    }

    /// <summary>The local (or, with <paramref name="peer"/>, remote) address of <paramref name="fd"/>; null if the kernel says none.</summary>
    public static EndPoint? Query(int fd, int domain, bool peer)
    {
        Span<byte> raw = stackalloc byte[MaxAddressLength];
        int length = Libc.SocketName(fd, raw, peer);
        if (length < 0)
        {
            return null;
        }

        var family = domain switch
        {
            Libc.AF_INET => AddressFamily.InterNetwork,
            Libc.AF_INET6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unix,
        };

        // A Unix socket that was never bound reports just the family: an unnamed end point. (The public constructor
        // refuses an empty path; Create from a family-only address is how .NET's Socket makes the unnamed one.)
        if (family == AddressFamily.Unix && length <= 2)
        {
            return new UnixDomainSocketEndPoint("x").Create(new SocketAddress(AddressFamily.Unix, 2));
        }

        var address = new SocketAddress(family, Math.Max(length, family == AddressFamily.Unix ? 3 : length));
        raw[..length].CopyTo(address.Buffer.Span);
        address.Size = length;
        EndPoint template = family == AddressFamily.Unix ? new UnixDomainSocketEndPoint("x") : new IPEndPoint(IPAddress.Any, 0);
        return template.Create(address);
    }
}
