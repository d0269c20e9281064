using Aio.Interop;

namespace Aio.Tests.Support;

/// <summary>A non-blocking AF_UNIX stream socket pair, closed on dispose.</summary>
public sealed class SocketPair : IDisposable
{
    public SocketPair()
    {
        (A, B) = Libc.CreateSocketPair();
    }

    public int A { get; private set; }

    public int B { get; private set; }

    public void WriteB(byte[] data) => Errors.Check(Libc.WriteSpan(B, data), "write");

    public int ReadA(byte[] into) => Libc.ReadSpan(A, into);

    public void Dispose()
    {
        Libc.CloseQuietly(A);
        Libc.CloseQuietly(B);
        A = B = -1;
    }
}
