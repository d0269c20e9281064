using Xunit;

namespace Aio.Tests.Support;

/// <summary>The theory form of <see cref="StraceFactAttribute"/>.</summary>
public sealed class StraceTheoryAttribute : TheoryAttribute
{
    private bool _requiresIoUring;

    public StraceTheoryAttribute()
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
