using System.Runtime.InteropServices;

namespace Aio.GLib.Interop;

/// <summary>libglib-2.0.so.0 imports (GLib 2.36+ for the unix-fd source API).</summary>
internal static unsafe partial class GLib
{
    private const string Library = "libglib-2.0.so.0";

    [LibraryImport(Library, EntryPoint = "g_source_new")]
    public static partial nint SourceNew(GSourceFuncs* funcs, uint structSize);

    [LibraryImport(Library, EntryPoint = "g_source_attach")]
    public static partial uint SourceAttach(nint source, nint context);

    [LibraryImport(Library, EntryPoint = "g_source_destroy")]
    public static partial void SourceDestroy(nint source);

    [LibraryImport(Library, EntryPoint = "g_source_unref")]
    public static partial void SourceUnref(nint source);

    [LibraryImport(Library, EntryPoint = "g_source_set_can_recurse")]
    public static partial void SourceSetCanRecurse(nint source, int canRecurse);

    [LibraryImport(Library, EntryPoint = "g_source_set_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SourceSetName(nint source, string name);

    [LibraryImport(Library, EntryPoint = "g_source_add_unix_fd")]
    public static partial nint SourceAddUnixFd(nint source, int fd, uint events);

    [LibraryImport(Library, EntryPoint = "g_source_modify_unix_fd")]
    public static partial void SourceModifyUnixFd(nint source, nint tag, uint newEvents);

    [LibraryImport(Library, EntryPoint = "g_source_remove_unix_fd")]
    public static partial void SourceRemoveUnixFd(nint source, nint tag);

    [LibraryImport(Library, EntryPoint = "g_main_context_default")]
    public static partial nint MainContextDefault();

    [LibraryImport(Library, EntryPoint = "g_main_context_new")]
    public static partial nint MainContextNew();

    [LibraryImport(Library, EntryPoint = "g_main_context_unref")]
    public static partial void MainContextUnref(nint context);

    [LibraryImport(Library, EntryPoint = "g_main_context_iteration")]
    public static partial int MainContextIteration(nint context, int mayBlock);

    [LibraryImport(Library, EntryPoint = "g_main_context_wakeup")]
    public static partial void MainContextWakeup(nint context);
}
