using System.Buffers.Binary;
using System.Net.Security;
using System.Text;

namespace Aio.Nbd;

/// <summary>
/// The option phase: answers options until GO or EXPORT_NAME picks an export (true) or the client aborts or must be
/// dropped (false). Every length is checked against the option's length before it is used.
/// </summary>
internal sealed class NbdOptionHaggler
{
    /// <summary>The longest LIST/SET_META_CONTEXT data served: longer ones get ERR_TOO_BIG (one context exists).</summary>
    internal const int MaxMetaContextRequest = 64 * 1024;

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly NbdTransport _transport;
    private readonly NbdSession _session;
    private readonly IReadOnlyDictionary<string, NbdExport> _exports;
    private readonly IReadOnlyList<NbdExport> _exportList;
    private readonly SslStreamCertificateContext? _certificate;
    private readonly bool _tlsRequired;
    private readonly byte[] _header = new byte[NbdProtocol.OptionHeaderSize];

    public NbdOptionHaggler(NbdTransport transport, NbdSession session, IReadOnlyList<NbdExport> exports, SslStreamCertificateContext? certificate, bool tlsRequired)
    {
        _transport = transport;
        _session = session;
        _exportList = exports;
        var byName = new Dictionary<string, NbdExport>(StringComparer.Ordinal);
        foreach (var export in exports)
        {
            byName[export.Name] = export;
        }

        _exports = byName;
        _certificate = certificate;
        _tlsRequired = tlsRequired && certificate is not null;
    }

    /// <summary>
    /// Answers options until one ends negotiation. <paramref name="ct"/> is the handshake's deadline (shortened to a
    /// grace by a stop); once <paramref name="stop"/> is set, every option but ABORT is answered ERR_SHUTDOWN, ABORT
    /// still gets its ACK and ends the connection, EXPORT_NAME ends it without a reply.
    /// </summary>
    public async ValueTask<bool> RunAsync(CancellationToken ct, CancellationToken stop)
    {
        while (true)
        {
            if (!await _transport.ReadExactAsync(_header, ct).ConfigureAwait(true))
            {
                return false;
            }

            ulong magic = BinaryPrimitives.ReadUInt64BigEndian(_header);
            uint option = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(8));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(12));
            if (magic != NbdProtocol.IHaveOpt || length > NbdProtocol.MaxOptionLength)
            {
                return false;
            }

            // Only as much of the data as the option can use is kept (the rest is read and dropped): a client claiming
            // 32 MiB for every option must not make the server hold 32 MiB per connection before it sent a byte of it.
            int kept = (int)Math.Min(length, MaxDataKept(option));
            byte[] data = kept == 0 ? [] : new byte[kept];
            await _transport.ReadRequiredAsync(data, ct).ConfigureAwait(true);
            bool truncated = kept < length;
            if (truncated)
            {
                await _transport.SkipAsync(length - kept, ct).ConfigureAwait(true);
            }

            if (!_session.FixedNewstyle && option != NbdProtocol.OptExportName)
            {
                // Without fixed newstyle the client cannot understand an error reply.
                return false;
            }

            if (stop.IsCancellationRequested && option != NbdProtocol.OptAbort)
            {
                // The server is stopping: ABORT is served as ever; EXPORT_NAME has no error reply (the connection just
                // closes, as for an unknown export); every other option is refused with the protocol's reply for this.
                if (option == NbdProtocol.OptExportName)
                {
                    return false;
                }

                // Negotiation goes on until the grace (ct) ends it: the client, told ERR_SHUTDOWN, is expected to send
                // ABORT (a soft disconnect), which gets its ACK; anything else it sends is refused the same way.
                await ReplyAsync(option, NbdProtocol.RepErrShutdown, "the server is shutting down", ct).ConfigureAwait(true);
                continue;
            }

            bool tlsMissing = _tlsRequired && !_transport.IsTls;
            if (tlsMissing && option is not (NbdProtocol.OptStartTls or NbdProtocol.OptAbort))
            {
                if (option == NbdProtocol.OptExportName)
                {
                    return false;
                }

                await ReplyAsync(option, NbdProtocol.RepErrTlsReqd, "TLS is required: send NBD_OPT_STARTTLS first", ct).ConfigureAwait(true);
                continue;
            }

            if (truncated && option is NbdProtocol.OptInfo or NbdProtocol.OptGo or NbdProtocol.OptListMetaContext or NbdProtocol.OptSetMetaContext)
            {
                if (option == NbdProtocol.OptSetMetaContext)
                {
                    // A SET replaces the previous selection even when it fails.
                    _session.MetaContextExport = null;
                }

                await ReplyAsync(option, NbdProtocol.RepErrTooBig, "option data too long", ct).ConfigureAwait(true);
                continue;
            }

            switch (option)
            {
                case NbdProtocol.OptExportName:
                    return await ExportNameAsync(data, ct).ConfigureAwait(true);
                case NbdProtocol.OptAbort:
                    await TryAckAbortAsync(ct).ConfigureAwait(true);
                    return false;
                case NbdProtocol.OptList:
                    await ListAsync(data, ct).ConfigureAwait(true);
                    break;
                case NbdProtocol.OptStartTls:
                    if (!await StartTlsAsync(data, ct).ConfigureAwait(true))
                    {
                        return false;
                    }

                    break;
                case NbdProtocol.OptInfo:
                case NbdProtocol.OptGo:
                    if (await InfoOrGoAsync(option, data, ct).ConfigureAwait(true))
                    {
                        return true;
                    }

                    break;
                case NbdProtocol.OptStructuredReply:
                    if (data.Length != 0 || _session.Structured)
                    {
                        await ReplyAsync(option, NbdProtocol.RepErrInvalid, data.Length != 0 ? "STRUCTURED_REPLY takes no data" : "structured replies already negotiated", ct).ConfigureAwait(true);
                    }
                    else
                    {
                        _session.Structured = true;
                        await ReplyAsync(option, NbdProtocol.RepAck, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(true);
                    }

                    break;
                case NbdProtocol.OptListMetaContext:
                case NbdProtocol.OptSetMetaContext:
                    await MetaContextAsync(option, data, ct).ConfigureAwait(true);
                    break;
                default:
                    await ReplyAsync(option, NbdProtocol.RepErrUnsup, "unsupported option", ct).ConfigureAwait(true);
                    break;
            }
        }
    }

    /// <summary>
    /// The most of an option's data worth keeping. Options without data keep one byte (enough to refuse data sent with
    /// them); a name is at most 4096 bytes (one more makes it too long); INFO and GO are a name and at most 65535
    /// information requests; a meta context request's queries are capped at 64 KiB (ERR_TOO_BIG past that); unknown
    /// options keep nothing.
    /// </summary>
    private static int MaxDataKept(uint option) => option switch
    {
        NbdProtocol.OptAbort or NbdProtocol.OptList or NbdProtocol.OptStartTls or NbdProtocol.OptStructuredReply => 1,
        NbdProtocol.OptExportName => NbdProtocol.MaxStringLength + 1,
        NbdProtocol.OptInfo or NbdProtocol.OptGo => 4 + NbdProtocol.MaxStringLength + 2 + (2 * ushort.MaxValue),
        NbdProtocol.OptListMetaContext or NbdProtocol.OptSetMetaContext => MaxMetaContextRequest,
        _ => 0,
    };

    private async ValueTask<bool> ExportNameAsync(byte[] data, CancellationToken ct)
    {
        if (!TryDecode(data, out string name) || !_exports.TryGetValue(name, out var export))
        {
            // EXPORT_NAME has no error reply: the protocol's answer to an unknown export is a hard disconnect.
            return false;
        }

        _session.Export = export;
        byte[] reply = new byte[_session.NoZeroes ? 10 : 134];
        BinaryPrimitives.WriteUInt64BigEndian(reply, (ulong)export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), _session.TransmissionFlags(export));
        await _transport.SendAsync(reply, ct).ConfigureAwait(true);
        return true;
    }

    private async ValueTask TryAckAbortAsync(CancellationToken ct)
    {
        try
        {
            await ReplyAsync(NbdProtocol.OptAbort, NbdProtocol.RepAck, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            // The client may close before reading the ACK; that is allowed.
        }
    }

    private async ValueTask ListAsync(byte[] data, CancellationToken ct)
    {
        if (data.Length != 0)
        {
            await ReplyAsync(NbdProtocol.OptList, NbdProtocol.RepErrInvalid, "LIST takes no data", ct).ConfigureAwait(true);
            return;
        }

        foreach (var export in _exportList)
        {
            byte[] name = s_utf8.GetBytes(export.Name);
            byte[] description = s_utf8.GetBytes(export.Options.Description ?? "");
            byte[] payload = new byte[4 + name.Length + description.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)name.Length);
            name.CopyTo(payload, 4);
            description.CopyTo(payload, 4 + name.Length);
            await ReplyAsync(NbdProtocol.OptList, NbdProtocol.RepServer, payload, ct).ConfigureAwait(true);
        }

        await ReplyAsync(NbdProtocol.OptList, NbdProtocol.RepAck, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(true);
    }

    private async ValueTask<bool> StartTlsAsync(byte[] data, CancellationToken ct)
    {
        if (_certificate is null)
        {
            await ReplyAsync(NbdProtocol.OptStartTls, NbdProtocol.RepErrPolicy, "TLS is not configured", ct).ConfigureAwait(true);
            return true;
        }

        if (data.Length != 0 || _transport.IsTls)
        {
            await ReplyAsync(NbdProtocol.OptStartTls, NbdProtocol.RepErrInvalid, data.Length != 0 ? "STARTTLS takes no data" : "TLS already started", ct).ConfigureAwait(true);
            return true;
        }

        if (_transport.Buffered != 0)
        {
            // The client sent more before our ACK: plaintext that would be taken as protected. Drop it.
            return false;
        }

        await ReplyAsync(NbdProtocol.OptStartTls, NbdProtocol.RepAck, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(true);
        await _transport.StartTlsAsync(_certificate, ct).ConfigureAwait(true);
        _session.Reset();
        return true;
    }

    private async ValueTask<bool> InfoOrGoAsync(uint option, byte[] data, CancellationToken ct)
    {
        // u32 name length, name, u16 n, n x u16: every length checked against the option's own.
        if (data.Length < 6)
        {
            await ReplyAsync(option, NbdProtocol.RepErrInvalid, "option too short", ct).ConfigureAwait(true);
            return false;
        }

        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > (uint)data.Length - 6 || nameLength > NbdProtocol.MaxStringLength)
        {
            await ReplyAsync(option, NbdProtocol.RepErrInvalid, "bad export name length", ct).ConfigureAwait(true);
            return false;
        }

        int pos = 4 + (int)nameLength;
        int count = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos));
        pos += 2;
        if (data.Length - pos != 2 * count)
        {
            await ReplyAsync(option, NbdProtocol.RepErrInvalid, "bad information request count", ct).ConfigureAwait(true);
            return false;
        }

        if (!TryDecode(data.AsSpan(4, (int)nameLength), out string name))
        {
            await ReplyAsync(option, NbdProtocol.RepErrInvalid, "export name is not UTF-8", ct).ConfigureAwait(true);
            return false;
        }

        if (!_exports.TryGetValue(name, out var export))
        {
            await ReplyAsync(option, NbdProtocol.RepErrUnknown, "no such export", ct).ConfigureAwait(true);
            return false;
        }

        bool wantName = false;
        bool wantDescription = false;
        for (int i = 0; i < count; i++)
        {
            ushort request = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos + (2 * i)));
            wantName |= request == NbdProtocol.InfoName;
            wantDescription |= request == NbdProtocol.InfoDescription;
        }

        // Minimum 1: unaligned requests are served (bounce buffers, read-modify-write), so no client has to align,
        // and QEMU's client accepts any export size.
        byte[] blockSize = new byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(blockSize, NbdProtocol.InfoBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(6), NbdProtocol.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(10), NbdProtocol.MaxPayload);
        await ReplyAsync(option, NbdProtocol.RepInfo, blockSize, ct).ConfigureAwait(true);

        if (wantName)
        {
            byte[] nameBytes = s_utf8.GetBytes(export.Name);
            byte[] info = new byte[2 + nameBytes.Length];
            BinaryPrimitives.WriteUInt16BigEndian(info, NbdProtocol.InfoName);
            nameBytes.CopyTo(info, 2);
            await ReplyAsync(option, NbdProtocol.RepInfo, info, ct).ConfigureAwait(true);
        }

        if (wantDescription && export.Options.Description is { } description)
        {
            byte[] text = s_utf8.GetBytes(description);
            byte[] info = new byte[2 + text.Length];
            BinaryPrimitives.WriteUInt16BigEndian(info, NbdProtocol.InfoDescription);
            text.CopyTo(info, 2);
            await ReplyAsync(option, NbdProtocol.RepInfo, info, ct).ConfigureAwait(true);
        }

        byte[] exportInfo = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(exportInfo, NbdProtocol.InfoExport);
        BinaryPrimitives.WriteUInt64BigEndian(exportInfo.AsSpan(2), (ulong)export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(exportInfo.AsSpan(10), _session.TransmissionFlags(export));
        await ReplyAsync(option, NbdProtocol.RepInfo, exportInfo, ct).ConfigureAwait(true);
        await ReplyAsync(option, NbdProtocol.RepAck, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(true);
        if (option != NbdProtocol.OptGo)
        {
            return false;
        }

        _session.Export = export;
        return true;
    }

    private async ValueTask MetaContextAsync(uint option, byte[] data, CancellationToken ct)
    {
        bool set = option == NbdProtocol.OptSetMetaContext;
        if (set)
        {
            // A SET replaces the previous selection even when it fails.
            _session.MetaContextExport = null;
            if (!_session.Structured)
            {
                await ReplyAsync(option, NbdProtocol.RepErrInvalid, "SET_META_CONTEXT needs structured replies first", ct).ConfigureAwait(true);
                return;
            }
        }

        if (!TryParseMetaQueries(data, out string exportName, out var queries))
        {
            await ReplyAsync(option, NbdProtocol.RepErrInvalid, "malformed meta context request", ct).ConfigureAwait(true);
            return;
        }

        if (!_exports.ContainsKey(exportName))
        {
            await ReplyAsync(option, NbdProtocol.RepErrUnknown, "no such export", ct).ConfigureAwait(true);
            return;
        }

        bool match = false;
        foreach (string query in queries)
        {
            match |= query == NbdProtocol.BaseAllocation || (!set && query == "base:");
        }

        if (!set && queries.Count == 0)
        {
            match = true;
        }

        if (match)
        {
            byte[] name = Encoding.ASCII.GetBytes(NbdProtocol.BaseAllocation);
            byte[] payload = new byte[4 + name.Length];
            // A listed context has no id (the field is reserved, zero); only a selected one is given one.
            BinaryPrimitives.WriteUInt32BigEndian(payload, set ? NbdSession.BaseAllocationId : 0u);
            name.CopyTo(payload, 4);
            await ReplyAsync(option, NbdProtocol.RepMetaContext, payload, ct).ConfigureAwait(true);
            if (set)
            {
                _session.MetaContextExport = exportName;
            }
        }

        await ReplyAsync(option, NbdProtocol.RepAck, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(true);
    }

    private static bool TryParseMetaQueries(byte[] data, out string exportName, out List<string> queries)
    {
        exportName = "";
        queries = [];
        if (data.Length < 8)
        {
            return false;
        }

        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > (uint)data.Length - 8 || nameLength > NbdProtocol.MaxStringLength
            || !TryDecode(data.AsSpan(4, (int)nameLength), out exportName))
        {
            return false;
        }

        int pos = 4 + (int)nameLength;
        uint count = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
        pos += 4;
        for (uint i = 0; i < count; i++)
        {
            if (data.Length - pos < 4)
            {
                return false;
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            pos += 4;
            if (length > (uint)(data.Length - pos) || length > NbdProtocol.MaxStringLength
                || !TryDecode(data.AsSpan(pos, (int)length), out string query))
            {
                return false;
            }

            queries.Add(query);
            pos += (int)length;
        }

        return pos == data.Length;
    }

    private static bool TryDecode(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        if (bytes.Length > NbdProtocol.MaxStringLength)
        {
            return false;
        }

        try
        {
            text = s_utf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private ValueTask ReplyAsync(uint option, uint type, string message, CancellationToken ct)
        => ReplyAsync(option, type, s_utf8.GetBytes(message), ct);

    private async ValueTask ReplyAsync(uint option, uint type, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        byte[] reply = new byte[NbdProtocol.OptionReplyHeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt64BigEndian(reply, NbdProtocol.OptionReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(12), type);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(16), (uint)payload.Length);
        payload.CopyTo(reply.AsMemory(NbdProtocol.OptionReplyHeaderSize));
        await _transport.SendAsync(reply, ct).ConfigureAwait(true);
    }
}
