using System.Text.Json.Serialization;

namespace Aio.Sample.Web;

/// <summary>Source-generated serialization for the sample's body.</summary>
[JsonSerializable(typeof(Message))]
internal sealed partial class SampleJsonContext : JsonSerializerContext
{
}
