using Aio.Block;
using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>BlockFile.Open throws what File.OpenHandle throws for the same path, with the errno kept inside.</summary>
public class BlockFileOpenErrorTests
{
    private const int ENOTDIR = 20;
    private const int EISDIR = 21;
    private const int ENAMETOOLONG = 36;
    private const int ELOOP = 40;

    [Fact]
    public void A_missing_file_is_FileNotFoundException_with_its_path()
    {
        using var dir = new TempDir();
        using var ctx = AioContext.Create();
        string path = Path.Combine(dir.Path, "missing");
        var ex = Assert.Throws<FileNotFoundException>(() => BlockFile.Open(ctx, path));
        Assert.Equal(path, ex.FileName);
        Assert.Contains(path, ex.Message);
        Assert.Equal(Errno.ENOENT, Assert.IsType<AioException>(ex.InnerException).Errno);
        SameKindAsDotNet(ctx, path, readOnly: false);
    }

    [Fact]
    public void A_missing_directory_is_DirectoryNotFoundException()
    {
        using var dir = new TempDir();
        using var ctx = AioContext.Create();
        string path = Path.Combine(dir.Path, "no-such-dir", "file");
        var ex = Assert.Throws<DirectoryNotFoundException>(() => BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = true }));
        Assert.Contains(path, ex.Message);
        Assert.Equal(Errno.ENOENT, Assert.IsType<AioException>(ex.InnerException).Errno);
        SameKindAsDotNet(ctx, path, readOnly: true);
    }

    [Fact]
    public void A_file_used_as_a_directory_is_DirectoryNotFoundException()
    {
        using var dir = new TempDir();
        using var ctx = AioContext.Create();
        var (file, _) = dir.CreateFile("plain", 16);
        string path = Path.Combine(file, "child");
        var ex = Assert.Throws<DirectoryNotFoundException>(() => BlockFile.Open(ctx, path));
        Assert.Equal(ENOTDIR, Assert.IsType<AioException>(ex.InnerException).Errno);
        SameKindAsDotNet(ctx, path, readOnly: false);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_directory_is_UnauthorizedAccessException(bool readOnly)
    {
        using var dir = new TempDir();
        using var ctx = AioContext.Create();
        var ex = Assert.Throws<UnauthorizedAccessException>(() => BlockFile.Open(ctx, dir.Path, new BlockFileOptions { ReadOnly = readOnly }));
        Assert.Contains("is a directory", ex.Message);
        Assert.Equal(EISDIR, Assert.IsType<AioException>(ex.InnerException).Errno);
        SameKindAsDotNet(ctx, dir.Path, readOnly);
    }

    [Fact]
    public void A_name_too_long_is_PathTooLongException()
    {
        using var dir = new TempDir();
        using var ctx = AioContext.Create();
        string path = Path.Combine(dir.Path, new string('n', 300));
        var ex = Assert.Throws<PathTooLongException>(() => BlockFile.Open(ctx, path));
        Assert.Equal(ENAMETOOLONG, Assert.IsType<AioException>(ex.InnerException).Errno);
        SameKindAsDotNet(ctx, path, readOnly: false);
    }

    [Fact]
    public void Other_errnos_stay_AioException_an_IOException_whose_HResult_is_the_errno()
    {
        using var dir = new TempDir();
        using var ctx = AioContext.Create();
        string a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b");
        File.CreateSymbolicLink(a, b);
        File.CreateSymbolicLink(b, a);
        var ex = Assert.Throws<AioException>(() => BlockFile.Open(ctx, a));
        Assert.Equal(ELOOP, ex.Errno);
        Assert.Equal(ELOOP, ex.HResult);
        Assert.Contains(a, ex.Message);
        SameKindAsDotNet(ctx, a, readOnly: false);
    }

    [Fact]
    public void Permission_and_existence_errnos_map_like_File_OpenHandle()
    {
        // The tests run as root, for whom the kernel waives EACCES: the mapping itself is checked for these.
        const string path = "/some/file";
        foreach (int errno in new[] { Errno.EACCES, Errno.EPERM })
        {
            var denied = Assert.IsType<UnauthorizedAccessException>(OpenErrors.ForOpen(errno, path));
            Assert.Contains(path, denied.Message);
            Assert.Equal(errno, Assert.IsType<AioException>(denied.InnerException).Errno);
        }

        var exists = Assert.IsType<AioException>(OpenErrors.ForOpen(Errno.EEXIST, path));
        Assert.IsAssignableFrom<IOException>(exists);
        Assert.Equal(Errno.EEXIST, exists.HResult);
        Assert.Contains(path, exists.Message);
        Assert.Contains("already exists", exists.Message);
    }

    /// <summary>File.OpenHandle on the same path throws the same exception type (or a base of ours).</summary>
    private static void SameKindAsDotNet(AioContext ctx, string path, bool readOnly)
    {
        var expected = Record.Exception(() => File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite).Dispose());
        var actual = Record.Exception(() => BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = readOnly }).Dispose());
        Assert.NotNull(expected);
        Assert.NotNull(actual);
        Assert.IsAssignableFrom(expected.GetType(), actual);
    }
}
