using Aio.Interop;
using Xunit;

namespace Aio.Tests.Interop;

public class ErrorsTests
{
    [Fact]
    public void Failing_call_produces_AioException_with_errno_and_message()
    {
        var ex = Assert.Throws<AioException>(() => Errors.Check(Libc.Close(-1), "close"));
        Assert.Equal(Errno.EBADF, ex.Errno);
        Assert.Equal("close: EBADF (Bad file descriptor)", ex.Message);
        Assert.IsAssignableFrom<IOException>(ex);
    }

    [Fact]
    public void Open_of_missing_path_reports_ENOENT()
    {
        string path = Path.Combine(Path.GetTempPath(), "aio-missing-" + Guid.NewGuid().ToString("N"));
        var ex = Assert.Throws<AioException>(() => Errors.Check(Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open"));
        Assert.Equal(Errno.ENOENT, ex.Errno);
        Assert.StartsWith("open: ENOENT (No such file or directory)", ex.Message);
    }

    [Fact]
    public void Unknown_errno_gets_a_numeric_name()
    {
        Assert.Equal("E999", Errno.Name(999));
        Assert.Equal("ECANCELED", Errno.Name(Errno.ECANCELED));
        Assert.Equal("ETIME", Errno.Name(Errno.ETIME));
    }
}
