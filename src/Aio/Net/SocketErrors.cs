using System.Net.Sockets;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// errno → <see cref="SocketError"/>, as .NET's <see cref="Socket"/> reports the same failures on Linux, so code that
/// switches on <see cref="SocketException.SocketErrorCode"/> behaves the same over an <see cref="AioSocket"/>.
/// </summary>
internal static class SocketErrors
{
    /// <summary>The <see cref="SocketError"/> for a Linux errno.</summary>
    public static SocketError FromErrno(int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => SocketError.AccessDenied,
        Errno.ENOENT => SocketError.AddressNotAvailable,
        Errno.EINTR => SocketError.Interrupted,
        Errno.EBADF or Errno.ECANCELED => SocketError.OperationAborted,
        Errno.EAGAIN => SocketError.WouldBlock,
        105 => SocketError.NoBufferSpaceAvailable,                           // ENOBUFS
        Errno.EFAULT => SocketError.Fault,
        Errno.EINVAL => SocketError.InvalidArgument,
        Errno.ENFILE or Errno.EMFILE => SocketError.TooManyOpenSockets,
        Errno.EPIPE => SocketError.Shutdown,
        108 => SocketError.Disconnecting,                                    // ESHUTDOWN
        6 => SocketError.HostNotFound,                                       // ENXIO (.NET's closest match)
        61 => SocketError.NoData,                                            // ENODATA
        88 => SocketError.NotSocket,                                         // ENOTSOCK
        89 => SocketError.DestinationAddressRequired,                        // EDESTADDRREQ
        90 => SocketError.MessageSize,                                       // EMSGSIZE
        91 => SocketError.ProtocolType,                                      // EPROTOTYPE
        92 => SocketError.ProtocolOption,                                    // ENOPROTOOPT
        93 => SocketError.ProtocolNotSupported,                              // EPROTONOSUPPORT
        94 => SocketError.SocketNotSupported,                                // ESOCKTNOSUPPORT
        Errno.EOPNOTSUPP => SocketError.OperationNotSupported,
        96 => SocketError.ProtocolFamilyNotSupported,                        // EPFNOSUPPORT
        97 => SocketError.AddressFamilyNotSupported,                         // EAFNOSUPPORT
        98 => SocketError.AddressAlreadyInUse,                               // EADDRINUSE
        99 => SocketError.AddressNotAvailable,                               // EADDRNOTAVAIL
        100 => SocketError.NetworkDown,                                      // ENETDOWN
        101 => SocketError.NetworkUnreachable,                               // ENETUNREACH
        102 => SocketError.NetworkReset,                                     // ENETRESET
        103 => SocketError.ConnectionAborted,                                // ECONNABORTED
        104 => SocketError.ConnectionReset,                                  // ECONNRESET
        106 => SocketError.IsConnected,                                      // EISCONN
        107 => SocketError.NotConnected,                                     // ENOTCONN
        Errno.ETIMEDOUT => SocketError.TimedOut,
        111 => SocketError.ConnectionRefused,                                // ECONNREFUSED
        112 => SocketError.HostDown,                                         // EHOSTDOWN
        113 => SocketError.HostUnreachable,                                  // EHOSTUNREACH
        Errno.EALREADY => SocketError.AlreadyInProgress,
        115 => SocketError.InProgress,                                       // EINPROGRESS
        _ => SocketError.SocketError,
    };

    /// <summary>A <see cref="SocketException"/> for a Linux errno (positive).</summary>
    public static SocketException Exception(int errno) => new((int)FromErrno(errno));

    /// <summary>What a pending operation ends with when <see cref="AioSocket.Abort"/> tore the connection down.</summary>
    public static SocketException Aborted() => new((int)SocketError.OperationAborted);
}
