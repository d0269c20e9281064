using Aio.Interop;

namespace Aio;

public sealed partial class BlockFile
{
    /// <summary>
    /// Maps the file read-only, at its current size, for sends straight from the page cache (<see cref="BlockFileView"/>).
    /// The view outlives the file's disposal until it is disposed itself (the mapping holds the file open in the kernel).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    /// <exception cref="AioException">mmap failed (for example, a file system or device that cannot be mapped).</exception>
    public BlockFileView MapView()
    {
        ThrowIfDisposed();
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            int fd = (int)_handle.DangerousGetHandle();
            return new BlockFileView(FileMapping.Map(fd, Libc.FileOrDeviceSize(fd), writable: !_readOnly));
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }
}
