namespace Aio.Cli;

/// <summary>Bad input on the command line: printed as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
