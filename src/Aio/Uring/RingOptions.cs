namespace Aio.Uring;

/// <summary>How to set up a <see cref="Ring"/>. Tests use the masks to exercise the older-kernel paths on a new kernel.</summary>
internal sealed record RingOptions
{
    /// <summary>Submission queue entries (rounded up to a power of two by the kernel).</summary>
    public uint Entries { get; init; } = 128;

    /// <summary>Flags never to request, whatever the kernel accepts (for tests of the fallback tiers).</summary>
    public uint ForbiddenFlags { get; init; }

    /// <summary>Pretend the kernel lacks IORING_FEAT_EXT_ARG: waits then use a TIMEOUT request.</summary>
    public bool DisableExtArg { get; init; }
}
