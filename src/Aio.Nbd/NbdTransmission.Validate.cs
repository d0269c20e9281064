namespace Aio.Nbd;

/// <content>Checking a request before anything runs: flags, range and permissions.</content>
internal sealed partial class NbdTransmission
{
    private const ushort ReadFlags = NbdProtocol.CmdFlagFua | NbdProtocol.CmdFlagDf;
    private const ushort WriteZeroesFlags = NbdProtocol.CmdFlagFua | NbdProtocol.CmdFlagNoHole | NbdProtocol.CmdFlagFastZero;
    private const ushort BlockStatusFlags = NbdProtocol.CmdFlagFua | NbdProtocol.CmdFlagReqOne;

    /// <summary>The request's error (0 if it may run): EPERM read-only, ENOSPC/EINVAL out of range, EINVAL bad flags or command, EOVERFLOW (structured) or EINVAL a READ over the maximum payload.</summary>
    private uint Validate(NbdRequest request, out string message)
    {
        message = "";
        ushort allowed;
        bool writes = false;
        bool ranged = true;
        switch (request.Type)
        {
            case NbdProtocol.CmdRead:
                allowed = _session.Structured ? ReadFlags : NbdProtocol.CmdFlagFua;
                break;
            case NbdProtocol.CmdWrite:
                allowed = NbdProtocol.CmdFlagFua;
                writes = true;
                break;
            case NbdProtocol.CmdFlush:
                allowed = NbdProtocol.CmdFlagFua;
                ranged = false;
                break;
            case NbdProtocol.CmdTrim:
                allowed = NbdProtocol.CmdFlagFua;
                writes = true;
                break;
            case NbdProtocol.CmdCache:
                allowed = NbdProtocol.CmdFlagFua;
                break;
            case NbdProtocol.CmdWriteZeroes:
                allowed = WriteZeroesFlags;
                writes = true;
                break;
            case NbdProtocol.CmdBlockStatus:
                allowed = BlockStatusFlags;
                if (!_session.HasBaseAllocation)
                {
                    message = "no meta context was negotiated for this export";
                    return NbdProtocol.EINVAL;
                }

                break;
            default:
                message = "unknown command";
                return NbdProtocol.EINVAL;
        }

        if (writes && _export.ReadOnly)
        {
            message = "the export is read-only";
            return NbdProtocol.EPERM;
        }

        if (ranged)
        {
            // 64-bit check that cannot overflow: offset <= size and length <= size - offset.
            ulong size = (ulong)_export.Size;
            if (request.Offset > size || request.Length > size - request.Offset)
            {
                message = "request past the end of the export";
                return request.Type is NbdProtocol.CmdWrite or NbdProtocol.CmdWriteZeroes ? NbdProtocol.ENOSPC : NbdProtocol.EINVAL;
            }
        }

        if ((request.Flags & ~allowed) != 0)
        {
            message = "command flag not valid for this command";
            return NbdProtocol.EINVAL;
        }

        if (request.Type == NbdProtocol.CmdRead && request.Length > NbdProtocol.MaxPayload)
        {
            // With simple replies the client broke a MUST (no READ over the maximum payload): EINVAL. With structured
            // replies such a READ is legal, and the protocol lets a server refuse it up front with EOVERFLOW, which
            // tells the client to retry in smaller pieces rather than that it erred.
            message = "read larger than the maximum payload";
            return _session.Structured ? NbdProtocol.EOVERFLOW : NbdProtocol.EINVAL;
        }

        if (request.Type == NbdProtocol.CmdBlockStatus && request.Length == 0)
        {
            message = "zero-length block status";
            return NbdProtocol.EINVAL;
        }

        return 0;
    }
}
