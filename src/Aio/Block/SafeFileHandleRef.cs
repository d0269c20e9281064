using Microsoft.Win32.SafeHandles;

namespace Aio.Block;

/// <summary>A file handle passed to a block operation (a named wrapper so the call sites read clearly).</summary>
internal readonly record struct SafeFileHandleRef(SafeFileHandle Handle);
