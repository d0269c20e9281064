namespace Aio.TestHelper;

/// <summary>
/// The kernel objects Aio opens (eventfd, epoll, io_uring: anonymous-inode fds), to show that a failed constructor
/// closed what it had opened. Other fds are left out: the runtime opens assembly files lazily and keeps them.
/// </summary>
internal static class FdCount
{
    public static string[] Snapshot()
        => Directory.GetFileSystemEntries("/proc/self/fd")
            .Select(p => Path.GetFileName(p) + "->" + ReadLink(p))
            .Where(fd => fd.Contains("anon_inode:", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>Checks that no fd appeared between two snapshots, naming any that did.</summary>
    public static void CheckNoLeak(string[] before, string what)
    {
        var after = Snapshot();
        var added = after.Except(before, StringComparer.Ordinal).ToArray();
        Report.Check(added.Length == 0, what, $"{added.Length} new fd(s): {string.Join(", ", added)}");
    }

    private static string ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget ?? "?";
        }
        catch (IOException)
        {
            // The fd that listed the directory is closed by the time we read its link.
            return "gone";
        }
    }
}
