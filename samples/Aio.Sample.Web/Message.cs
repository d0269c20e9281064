namespace Aio.Sample.Web;

/// <summary>The JSON endpoint's body.</summary>
public sealed record Message(string message);
