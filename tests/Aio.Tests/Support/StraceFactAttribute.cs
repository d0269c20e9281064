using Xunit;

namespace Aio.Tests.Support;

/// <summary>
/// A fact that runs a child under strace: skipped, with the reason, only where strace is not installed (or, with
/// <see cref="RequiresIoUring"/>, where the kernel refuses io_uring to this process, since a seccomp refusal
/// happens before strace could inject anything).
/// </summary>
public sealed class StraceFactAttribute : FactAttribute
{
    private bool _requiresIoUring;

    public StraceFactAttribute()
    {
        Skip = StraceSkip.Reason(requiresIoUring: false);
    }

    /// <summary>Also skip where the kernel refuses io_uring (the faults under test are io_uring's).</summary>
    public bool RequiresIoUring
    {
        get => _requiresIoUring;
        set
        {
            _requiresIoUring = value;
            Skip = StraceSkip.Reason(value);
        }
    }
}
