using System.Runtime.InteropServices;

namespace Aio.Interop;

/// <summary>
/// A msghdr and its iovec array in native memory, for SENDMSG: the kernel reads them at submission (and again if it
/// retries after a short send), so they must not move; native memory never does. One per socket send path, reused.
/// </summary>
internal sealed unsafe class GatherList : IDisposable
{
    private MsgHdr* _header;
    private IoVec* _iovecs;
    private int _capacity;

    /// <summary>Iovecs filled so far.</summary>
    public int Count { get; private set; }

    /// <summary>The msghdr's address (valid until <see cref="Dispose"/>).</summary>
    public nint HeaderAddress => (nint)_header;

    /// <summary>Starts a new list.</summary>
    public void Clear() => Count = 0;

    /// <summary>Appends one segment.</summary>
    public void Add(nint address, int length)
    {
        if (Count == _capacity)
        {
            Grow();
        }

        _iovecs[Count].Base = address;
        _iovecs[Count].Length = (nuint)length;
        Count++;
    }

    /// <summary>Points the msghdr at iovecs [<paramref name="first"/>, first + <paramref name="count"/>).</summary>
    public void PrepareHeader(int first, int count)
    {
        *_header = default;
        _header->Iov = _iovecs + first;
        _header->IovLen = (nuint)count;
    }

    /// <summary>Start of iovec <paramref name="index"/> as it stands.</summary>
    public nint BaseAt(int index) => _iovecs[index].Base;

    /// <summary>Length of iovec <paramref name="index"/> as it stands.</summary>
    public long LengthAt(int index) => (long)_iovecs[index].Length;

    /// <summary>A short send took <paramref name="bytes"/> (less than its length) of iovec <paramref name="index"/>.</summary>
    public void Consume(int index, long bytes)
    {
        _iovecs[index].Base += (nint)bytes;
        _iovecs[index].Length -= (nuint)bytes;
    }

    /// <summary>
    /// sendmsg(2) without blocking over the iovecs the header points at (the fallback path), with <paramref name="flags"/>
    /// added to MSG_DONTWAIT|MSG_NOSIGNAL; count or -errno.
    /// </summary>
    public long SendNonBlocking(int fd, int flags) => Libc.SendNonBlocking(fd, _header->Iov, (int)_header->IovLen, flags);

    public void Dispose()
    {
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_header);
        _iovecs = null;
        _header = null;
        _capacity = 0;
        Count = 0;
    }

    private void Grow()
    {
        int capacity = _capacity == 0 ? 8 : _capacity * 2;
        _iovecs = (IoVec*)NativeMemory.Realloc(_iovecs, (nuint)(capacity * sizeof(IoVec)));
        if (_header is null)
        {
            _header = (MsgHdr*)NativeMemory.AllocZeroed((nuint)sizeof(MsgHdr));
        }

        _capacity = capacity;
    }
}
