namespace Aio.Interop;

/// <summary>
/// Linux errno values (asm-generic/errno-base.h and errno.h; identical on x86_64 and arm64) that the
/// layers above test for, plus a name table for messages.
/// </summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int ESPIPE = 29;
    public const int EPIPE = 32;
    public const int ENOSYS = 38;
    public const int ETIME = 62;
    public const int EOPNOTSUPP = 95;
    public const int ETIMEDOUT = 110;
    public const int EALREADY = 114;
    public const int ECANCELED = 125;

    private static readonly string[] s_names = BuildNames();

    /// <summary>The symbolic name (<c>"EBADF"</c>), or <c>"E&lt;n&gt;"</c> for a value not in the table.</summary>
    public static string Name(int errno)
        => (uint)errno < (uint)s_names.Length && s_names[errno] is { } name ? name : "E" + errno.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string[] BuildNames()
    {
        var names = new string[134];
        (int Value, string Name)[] table =
        [
            (1, "EPERM"), (2, "ENOENT"), (3, "ESRCH"), (4, "EINTR"), (5, "EIO"), (6, "ENXIO"), (7, "E2BIG"),
            (8, "ENOEXEC"), (9, "EBADF"), (10, "ECHILD"), (11, "EAGAIN"), (12, "ENOMEM"), (13, "EACCES"),
            (14, "EFAULT"), (15, "ENOTBLK"), (16, "EBUSY"), (17, "EEXIST"), (18, "EXDEV"), (19, "ENODEV"),
            (20, "ENOTDIR"), (21, "EISDIR"), (22, "EINVAL"), (23, "ENFILE"), (24, "EMFILE"), (25, "ENOTTY"),
            (26, "ETXTBSY"), (27, "EFBIG"), (28, "ENOSPC"), (29, "ESPIPE"), (30, "EROFS"), (31, "EMLINK"),
            (32, "EPIPE"), (33, "EDOM"), (34, "ERANGE"), (35, "EDEADLK"), (36, "ENAMETOOLONG"), (37, "ENOLCK"),
            (38, "ENOSYS"), (39, "ENOTEMPTY"), (40, "ELOOP"), (61, "ENODATA"), (62, "ETIME"),
            (75, "EOVERFLOW"), (77, "EBADFD"), (88, "ENOTSOCK"), (95, "EOPNOTSUPP"), (97, "EAFNOSUPPORT"),
            (98, "EADDRINUSE"), (103, "ECONNABORTED"), (104, "ECONNRESET"), (105, "ENOBUFS"), (106, "EISCONN"),
            (107, "ENOTCONN"), (110, "ETIMEDOUT"), (111, "ECONNREFUSED"), (114, "EALREADY"),
            (115, "EINPROGRESS"), (122, "EDQUOT"), (125, "ECANCELED"),
        ];
        foreach (var (value, name) in table)
        {
            names[value] = name;
        }

        return names;
    }
}
