using Aio.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aio.Block;

/// <summary>
/// What <see cref="BlockFile.Open"/> throws when open(2) fails: the exception types <c>File.OpenHandle</c> throws on
/// Linux for the same errno, so that code written against <c>FileStream</c> or <c>RandomAccess</c> catches them
/// unchanged. Nothing is lost: every mapped exception carries an <see cref="AioException"/> with the errno as its
/// <see cref="Exception.InnerException"/>, and errnos without a .NET type of their own stay <see cref="AioException"/>.
/// </summary>
/// <remarks>
/// The table (checked against File.OpenHandle on .NET 10):
/// <list type="bullet">
/// <item>ENOENT: <see cref="FileNotFoundException"/> when the directory exists, else <see cref="DirectoryNotFoundException"/>.</item>
/// <item>ENOTDIR: <see cref="DirectoryNotFoundException"/> (a component of the path is a file).</item>
/// <item>EACCES, EPERM, EISDIR: <see cref="UnauthorizedAccessException"/>; a directory opened read-only (open succeeds)
/// too.</item>
/// <item>ENAMETOOLONG: <see cref="PathTooLongException"/>.</item>
/// <item>EEXIST: <see cref="AioException"/> (an <see cref="IOException"/>) saying the file exists.</item>
/// <item>Anything else: <see cref="AioException"/>, an <see cref="IOException"/> whose HResult is the errno.</item>
/// </list>
/// </remarks>
internal static class OpenErrors
{
    private const int ENOTDIR = 20;
    private const int EISDIR = 21;
    private const int ENAMETOOLONG = 36;
    private const uint S_IFDIR = 0x4000;

    /// <summary>The exception for open(<paramref name="path"/>) failing with <paramref name="errno"/>.</summary>
    public static Exception ForOpen(int errno, string path)
    {
        var cause = new AioException(errno, $"open({path})");
        string name = Errno.Name(errno);
        return errno switch
        {
            Errno.ENOENT when ParentExists(path) => new FileNotFoundException($"The file '{path}' does not exist (open: {name}).", path, cause),
            Errno.ENOENT => new DirectoryNotFoundException($"A directory on the path '{path}' does not exist (open: {name}).", cause),
            ENOTDIR => new DirectoryNotFoundException($"A component of the path '{path}' is not a directory (open: {name}).", cause),
            Errno.EACCES or Errno.EPERM => new UnauthorizedAccessException($"Access to '{path}' is denied (open: {name}).", cause),
            EISDIR => IsDirectory(path),
            ENAMETOOLONG => new PathTooLongException($"The path '{path}' is too long (open: {name}).", cause),
            Errno.EEXIST => new AioException($"The file '{path}' already exists (open: {name}).", errno),
            _ => cause,
        };
    }

    /// <summary>
    /// Refuses a directory that open(2) accepted (O_RDONLY opens one): like File.OpenHandle, with
    /// <see cref="UnauthorizedAccessException"/>, and the handle closed. Block and character devices pass.
    /// </summary>
    public static void ThrowIfDirectory(SafeFileHandle handle, string path)
    {
        uint mode;
        try
        {
            mode = Libc.FileSizeAndMode((int)handle.DangerousGetHandle()).Mode;
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        if ((mode & Libc.S_IFMT) == S_IFDIR)
        {
            handle.Dispose();
            throw IsDirectory(path);
        }
    }

    private static UnauthorizedAccessException IsDirectory(string path)
        => new($"'{path}' is a directory, not a file or a block device (open: EISDIR).", new AioException(EISDIR, $"open({path})"));

    /// <summary>Whether the directory that would hold <paramref name="path"/> exists (what tells a missing file from a missing directory).</summary>
    private static bool ParentExists(string path)
    {
        string? parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
        return parent is null || Directory.Exists(parent);
    }
}
