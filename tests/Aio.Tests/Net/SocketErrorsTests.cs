using System.Net.Sockets;
using System.Reflection;
using Aio.Net;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// errno → SocketError, pinned against the runtime's own table (System.Net.Sockets' SocketErrorPal, reached by
/// reflection): code that switches on SocketErrorCode must see over an AioSocket what it sees over a Socket.
/// </summary>
public sealed class SocketErrorsTests
{
    [Fact]
    public void Every_errno_maps_to_the_SocketError_dotnets_Socket_reports_for_it()
    {
        var runtime = RuntimeMapping();
        var mismatches = new List<string>();
        for (int errno = 1; errno < 134; errno++)
        {
            var expected = runtime(errno);
            var actual = SocketErrors.FromErrno(errno);
            if (expected != actual)
            {
                mismatches.Add($"errno {errno}: .NET {expected}, Aio {actual}");
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("; ", mismatches));
    }

    /// <summary>The runtime's errno → PAL error → SocketError, both steps its own internal code.</summary>
    private static Func<int, SocketError> RuntimeMapping()
    {
        var assembly = typeof(Socket).Assembly;
        var pal = assembly.GetType("System.Net.Sockets.SocketErrorPal", throwOnError: true)!;
        var toSocketError = pal.GetMethod("GetSocketErrorForNativeError", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;
        var sys = assembly.GetType("Interop+Sys", throwOnError: true)!;
        var toPal = sys.GetMethod("ConvertErrorPlatformToPal", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;
        return errno => (SocketError)toSocketError.Invoke(null, [toPal.Invoke(null, [errno])])!;
    }
}
