using Aio.Interop;

namespace Aio.TestHelper;

/// <summary>Errno names as strace spells them ("EMFILE"), parsed from the scenario's arguments.</summary>
internal static class Errnos
{
    public static int Parse(string name)
    {
        for (int errno = 1; errno < 134; errno++)
        {
            if (Errno.Name(errno) == name)
            {
                return errno;
            }
        }

        throw new ArgumentException($"unknown errno name '{name}'", nameof(name));
    }
}
