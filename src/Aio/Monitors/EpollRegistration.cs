namespace Aio.Monitors;

/// <summary>
/// The epoll monitor's record of one handler's registration: the epoll data it was registered with (a generation in the
/// high half, the fd in the low half), and the identity of the file the fd named then. Immutable.
/// </summary>
/// <param name="Data">What the kernel hands back with each event for this registration.</param>
/// <param name="Device">The device of the file at registration (statx's major and minor, packed).</param>
/// <param name="Inode">st_ino of the file at registration.</param>
internal sealed record EpollRegistration(ulong Data, ulong Device, ulong Inode);
