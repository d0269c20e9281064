namespace Aio.Nbd;

/// <summary>What a connection negotiated; STARTTLS forgets all of it but the handshake flags.</summary>
internal sealed class NbdSession
{
    /// <summary>The context id of base:allocation in this server's replies.</summary>
    public const uint BaseAllocationId = 1;

    public bool NoZeroes { get; set; }

    public bool FixedNewstyle { get; set; }

    public bool Structured { get; set; }

    /// <summary>The export whose base:allocation was selected by SET_META_CONTEXT, or null.</summary>
    public string? MetaContextExport { get; set; }

    /// <summary>The export chosen by GO or EXPORT_NAME.</summary>
    public NbdExport? Export { get; set; }

    /// <summary>True when BLOCK_STATUS may be answered: base:allocation was selected for the export in use.</summary>
    public bool HasBaseAllocation => Export is not null && MetaContextExport == Export.Name;

    /// <summary>Forgets every negotiation (after STARTTLS: nbdkit CVE-2021-3716).</summary>
    public void Reset()
    {
        Structured = false;
        MetaContextExport = null;
        Export = null;
    }

    /// <summary>The transmission flags for <paramref name="export"/> given what was negotiated.</summary>
    public ushort TransmissionFlags(NbdExport export)
    {
        ushort flags = NbdProtocol.FlagHasFlags | NbdProtocol.FlagSendFlush | NbdProtocol.FlagSendFua
            | NbdProtocol.FlagCanMultiConn | NbdProtocol.FlagSendCache;
        if (export.ReadOnly)
        {
            flags |= NbdProtocol.FlagReadOnly;
        }
        else
        {
            flags |= NbdProtocol.FlagSendTrim | NbdProtocol.FlagSendWriteZeroes | NbdProtocol.FlagSendFastZero;
        }

        if (Structured)
        {
            flags |= NbdProtocol.FlagSendDf;
        }

        return flags;
    }
}
