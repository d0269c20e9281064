using System.Buffers.Binary;
using System.Net.Sockets;
using Xunit;

namespace Aio.Tests.Support;

/// <summary>
/// What a socket's kernel counted (TCP_INFO): segments received, and those of them with data. On loopback every send
/// of a few bytes is one segment, so the counts say how a peer's bytes and FIN were cut into segments.
/// </summary>
public static class TcpInfo
{
    // <netinet/tcp.h>: TCP_INFO, and in struct tcp_info the offsets of tcpi_segs_in (Linux 4.2+) and
    // tcpi_data_segs_in (Linux 4.6+).
    private const int IpProtoTcp = 6;
    private const int TcpInfoOption = 11;
    private const int SegsInOffset = 140;
    private const int DataSegsInOffset = 152;

    /// <summary>Segments received so far: (all of them, those with data).</summary>
    public static (uint All, uint Data) SegmentsIn(Socket socket)
    {
        var info = new byte[256];
        int length = socket.GetRawSocketOption(IpProtoTcp, TcpInfoOption, info);
        Assert.True(length >= DataSegsInOffset + 4, $"TCP_INFO returned {length} bytes: no tcpi_data_segs_in before Linux 4.6");
        return (BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(SegsInOffset)), BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(DataSegsInOffset)));
    }
}
