// Aio runs on Linux only. Declaring it here keeps the platform analyzer (CA1416) satisfied once the Aio assemblies
// declare [SupportedOSPlatform("linux")] themselves.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
