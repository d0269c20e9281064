using Xunit;

namespace Aio.Tests.Support;

/// <summary>Theory data: every outer driver (plain ppoll loop, GLib) with every monitor.</summary>
public static class OuterCases
{
    public static TheoryData<bool, FdMonitorKind> All
    {
        get
        {
            var data = new TheoryData<bool, FdMonitorKind>();
            foreach (bool glib in new[] { false, true })
            {
                foreach (var kind in MonitorKinds.Kinds)
                {
                    data.Add(glib, kind);
                }
            }

            return data;
        }
    }
}
