using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// Turns libc's <c>-1</c>/errno convention into <see cref="AioException"/>. The throw sites live here
/// (<see cref="MethodImplOptions.NoInlining"/>) so that the callers' hot paths stay small.
/// </summary>
internal static class Errors
{
    /// <summary>The last errno set by a <c>SetLastError = true</c> import on this thread.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary><c>"&lt;call&gt;: &lt;NAME&gt; (&lt;strerror&gt;)"</c>.</summary>
    public static string Format(string call, int errno)
        => $"{call}: {Errno.Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary>Throws for the current errno when <paramref name="result"/> is negative; returns it otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Check(int result, string call)
    {
        if (result < 0)
        {
            ThrowLast(call);
        }

        return result;
    }

    /// <inheritdoc cref="Check(int, string)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Check(long result, string call)
    {
        if (result < 0)
        {
            ThrowLast(call);
        }

        return result;
    }

    /// <summary>Throws an <see cref="AioException"/> for the errno of the last failed import.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    public static void ThrowLast(string call) => throw new AioException(LastErrno, call);

    /// <summary>Throws an <see cref="AioException"/> for a positive errno (for example a negated CQE result).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    public static void Throw(int errno, string call) => throw new AioException(errno, call);
}
