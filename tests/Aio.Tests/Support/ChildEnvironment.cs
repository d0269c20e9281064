using System.Runtime.CompilerServices;

namespace Aio.Tests.Support;

/// <summary>What every child process of the tests inherits.</summary>
internal static class ChildEnvironment
{
    /// <summary>
    /// No diagnostics IPC in child .NET processes: each would create a socket and two pipes in /tmp, which a child the
    /// tests kill on purpose (a timeout, a fault scenario) never removes. This process's own runtime is already
    /// running, so only the children are affected.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize() => Environment.SetEnvironmentVariable("DOTNET_EnableDiagnostics", "0");
}
