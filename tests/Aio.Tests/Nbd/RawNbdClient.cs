using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>A byte-level NBD client on a plain socket, for malformed handshakes and requests; every receive bounded (5 s).</summary>
public sealed class RawNbdClient : IDisposable
{
    public const ulong IHaveOpt = 0x49484156454F5054;
    private readonly Socket _socket;

    public RawNbdClient(string socketPath)
        : this(new UnixDomainSocketEndPoint(socketPath))
    {
    }

    public RawNbdClient(UnixDomainSocketEndPoint endPoint)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000, SendTimeout = 5000 };
        _socket.Connect(endPoint);
    }

    /// <summary>Over TCP; <paramref name="receiveBuffer"/> (SO_RCVBUF, set before the connect) when not 0.</summary>
    public RawNbdClient(System.Net.IPEndPoint endPoint, int receiveBuffer = 0)
    {
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000, SendTimeout = 5000 };
        if (receiveBuffer > 0)
        {
            _socket.ReceiveBufferSize = receiveBuffer;
        }

        _socket.Connect(endPoint);
    }

    public Socket Socket => _socket;

    /// <summary>Reads the 18-byte greeting and checks it.</summary>
    public void ReadGreeting()
    {
        var g = Receive(18);
        Assert.Equal(0x4e42444d41474943UL, BinaryPrimitives.ReadUInt64BigEndian(g));
        Assert.Equal(IHaveOpt, BinaryPrimitives.ReadUInt64BigEndian(g.AsSpan(8)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(g.AsSpan(16)));
    }

    /// <summary>Greeting, then fixed newstyle + NO_ZEROES.</summary>
    public void Hello(uint flags = 3)
    {
        ReadGreeting();
        Send(U32(flags));
    }

    public void SendOption(uint option, byte[] data, uint? length = null)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), length ?? (uint)data.Length);
        Send([.. header, .. data]);
    }

    /// <summary>Reads one option reply: (option, type, payload).</summary>
    public (uint Option, uint Type, byte[] Data) ReadOptionReply()
    {
        var h = Receive(20);
        Assert.Equal(0x0003e889045565a9UL, BinaryPrimitives.ReadUInt64BigEndian(h));
        uint length = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16));
        return (BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(12)), Receive((int)length));
    }

    /// <summary>Option replies up to and including the final one (ACK or an error).</summary>
    public List<(uint Option, uint Type, byte[] Data)> ReadOptionReplies()
    {
        var replies = new List<(uint, uint, byte[])>();
        while (true)
        {
            var r = ReadOptionReply();
            replies.Add(r);
            if (r.Type == 1 || (r.Type & 0x80000000) != 0)
            {
                return replies;
            }
        }
    }

    public static byte[] InfoRequest(string name, params ushort[] infos)
    {
        var n = Encoding.UTF8.GetBytes(name);
        var data = new List<byte>();
        data.AddRange(U32((uint)n.Length));
        data.AddRange(n);
        data.AddRange(U16((ushort)infos.Length));
        foreach (var i in infos)
        {
            data.AddRange(U16(i));
        }

        return [.. data];
    }

    public static byte[] MetaRequest(string name, params string[] queries)
    {
        var n = Encoding.UTF8.GetBytes(name);
        var data = new List<byte>();
        data.AddRange(U32((uint)n.Length));
        data.AddRange(n);
        data.AddRange(U32((uint)queries.Length));
        foreach (var q in queries)
        {
            var b = Encoding.UTF8.GetBytes(q);
            data.AddRange(U32((uint)b.Length));
            data.AddRange(b);
        }

        return [.. data];
    }

    /// <summary>Hello, optionally STRUCTURED_REPLY and SET_META_CONTEXT base:allocation, then GO; returns (size, flags).</summary>
    public (ulong Size, ushort Flags) Negotiate(string name = "", bool structured = false, bool meta = false)
    {
        Hello();
        if (structured)
        {
            SendOption(8, []);
            Assert.Equal(1u, ReadOptionReply().Type);
        }

        if (meta)
        {
            SendOption(10, MetaRequest(name, "base:allocation"));
            var replies = ReadOptionReplies();
            Assert.Equal(1u, replies[^1].Type);
        }

        SendOption(7, InfoRequest(name));
        ulong size = 0;
        ushort flags = 0;
        foreach (var r in ReadOptionReplies())
        {
            Assert.True(r.Type is 1 or 3, $"GO failed with reply type 0x{r.Type:x}");
            if (r.Type == 3 && BinaryPrimitives.ReadUInt16BigEndian(r.Data) == 0)
            {
                size = BinaryPrimitives.ReadUInt64BigEndian(r.Data.AsSpan(2));
                flags = BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(10));
            }
        }

        return (size, flags);
    }

    public void SendRequest(ushort flags, ushort type, ulong cookie, ulong offset, uint length, byte[]? payload = null, uint magic = 0x25609513)
        => Send(Request(flags, type, cookie, offset, length, payload, magic));

    /// <summary>The bytes of one request (header, then <paramref name="payload"/> if any), for bursts sent at once.</summary>
    public static byte[] Request(ushort flags, ushort type, ulong cookie, ulong offset, uint length, byte[]? payload = null, uint magic = 0x25609513)
    {
        var h = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(h, magic);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(24), length);
        return payload is null ? h : [.. h, .. payload];
    }

    /// <summary>A simple reply: (error, cookie), then <paramref name="dataLength"/> bytes of data if it succeeded.</summary>
    public (uint Error, ulong Cookie, byte[] Data) ReadSimpleReply(int dataLength = 0)
    {
        var h = Receive(16);
        Assert.Equal(0x67446698u, BinaryPrimitives.ReadUInt32BigEndian(h));
        uint error = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(4));
        return (error, BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(8)), error == 0 ? Receive(dataLength) : []);
    }

    /// <summary>A simple reply whose data length, if it succeeded, depends on its cookie.</summary>
    public (uint Error, ulong Cookie, byte[] Data) ReadSimpleReply(Func<ulong, int> dataLengthOf)
    {
        var h = Receive(16);
        Assert.Equal(0x67446698u, BinaryPrimitives.ReadUInt32BigEndian(h));
        uint error = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(4));
        ulong cookie = BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(8));
        return (error, cookie, error == 0 ? Receive(dataLengthOf(cookie)) : []);
    }

    /// <summary>A structured chunk or a simple reply (the server may answer either way once structured is on).</summary>
    public (ushort Flags, ushort Type, ulong Cookie, byte[] Payload, uint SimpleError, bool Simple) ReadReply()
    {
        var m = Receive(4);
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(m);
        if (magic == 0x67446698)
        {
            var rest = Receive(12);
            return (0, 0, BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(4)), [], BinaryPrimitives.ReadUInt32BigEndian(rest), true);
        }

        Assert.Equal(0x668e33efu, magic);
        var h = Receive(16);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(12));
        return (BinaryPrimitives.ReadUInt16BigEndian(h), BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(2)), BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(4)), Receive((int)length), 0, false);
    }

    /// <summary>The NBD error of a structured reply (0 for success), reading chunks until DONE.</summary>
    public uint ReadStructuredError(ulong cookie)
    {
        while (true)
        {
            var r = ReadReply();
            Assert.Equal(cookie, r.Cookie);
            if (r.Simple)
            {
                return r.SimpleError;
            }

            if ((r.Type & 0x8000) != 0)
            {
                return BinaryPrimitives.ReadUInt32BigEndian(r.Payload);
            }

            if ((r.Flags & 1) != 0)
            {
                return 0;
            }
        }
    }

    /// <summary>Waits for the next byte or the end of the stream, and takes nothing: true at a clean end.</summary>
    public bool AtEndOfStream() => _socket.Receive(new byte[1], SocketFlags.Peek) == 0;

    /// <summary>True if the server closed the connection (EOF or reset) within the receive timeout.</summary>
    public bool IsClosedByServer()
    {
        var b = new byte[1];
        try
        {
            while (true)
            {
                int n = _socket.Receive(b);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut || ex.SocketErrorCode == SocketError.WouldBlock)
        {
            return false;
        }
    }

    public void Send(byte[] data)
    {
        int sent = 0;
        while (sent < data.Length)
        {
            sent += _socket.Send(data, sent, data.Length - sent, SocketFlags.None);
        }
    }

    public byte[] Receive(int length)
    {
        var buffer = new byte[length];
        int done = 0;
        while (done < length)
        {
            int n = _socket.Receive(buffer, done, length - done, SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException($"server closed after {done} of {length} bytes");
            }

            done += n;
        }

        return buffer;
    }

    public static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    public static byte[] U16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, v);
        return b;
    }

    public void Dispose() => _socket.Dispose();
}
