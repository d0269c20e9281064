using System.Reflection;
using System.Reflection.Metadata;

namespace Aio.Build.DocFilter;

/// <summary>The documentation comment IDs of every type and member that code outside the assembly can see.</summary>
internal static class VisibleMembers
{
    public static HashSet<string> Collect(MetadataReader reader)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var provider = new DocIdTypeProvider();
        foreach (var handle in reader.TypeDefinitions)
        {
            var type = reader.GetTypeDefinition(handle);
            if (!IsVisible(reader, type))
            {
                continue;
            }

            string typeId = DocIdTypeProvider.TypeName(reader, handle);
            ids.Add("T:" + typeId);
            foreach (var methodHandle in type.GetMethods())
            {
                var method = reader.GetMethodDefinition(methodHandle);
                if (IsVisible(method.Attributes))
                {
                    ids.Add("M:" + typeId + "." + MethodId(reader, provider, method));
                }
            }

            foreach (var fieldHandle in type.GetFields())
            {
                var field = reader.GetFieldDefinition(fieldHandle);
                if (IsVisible(field.Attributes))
                {
                    ids.Add("F:" + typeId + "." + reader.GetString(field.Name));
                }
            }

            foreach (var propertyHandle in type.GetProperties())
            {
                var property = reader.GetPropertyDefinition(propertyHandle);
                var accessors = property.GetAccessors();
                if (IsVisible(reader, accessors.Getter) || IsVisible(reader, accessors.Setter))
                {
                    var signature = property.DecodeSignature(provider, genericContext: null);
                    ids.Add("P:" + typeId + "." + reader.GetString(property.Name) + Parameters(signature.ParameterTypes));
                }
            }

            foreach (var eventHandle in type.GetEvents())
            {
                var e = reader.GetEventDefinition(eventHandle);
                var accessors = e.GetAccessors();
                if (IsVisible(reader, accessors.Adder) || IsVisible(reader, accessors.Remover))
                {
                    ids.Add("E:" + typeId + "." + reader.GetString(e.Name));
                }
            }
        }

        return ids;
    }

    private static string MethodId(MetadataReader reader, DocIdTypeProvider provider, MethodDefinition method)
    {
        string name = reader.GetString(method.Name) switch
        {
            ".ctor" => "#ctor",
            ".cctor" => "#cctor",
            var other => other,
        };
        var signature = method.DecodeSignature(provider, genericContext: null);
        string id = name + (signature.GenericParameterCount > 0 ? "``" + signature.GenericParameterCount : string.Empty)
            + Parameters(signature.ParameterTypes);

        // Conversion operators differ only in their return type, which their ID therefore carries.
        return name is "op_Implicit" or "op_Explicit" ? id + "~" + signature.ReturnType : id;
    }

    private static string Parameters(IReadOnlyList<string> types) => types.Count == 0 ? string.Empty : "(" + string.Join(",", types) + ")";

    private static bool IsVisible(MetadataReader reader, TypeDefinition type)
    {
        while (true)
        {
            switch (type.Attributes & TypeAttributes.VisibilityMask)
            {
                case TypeAttributes.Public:
                    return true;
                case TypeAttributes.NestedPublic:
                case TypeAttributes.NestedFamily:
                case TypeAttributes.NestedFamORAssem:
                    type = reader.GetTypeDefinition(type.GetDeclaringType());
                    break;
                default:
                    return false;
            }
        }
    }

    private static bool IsVisible(MetadataReader reader, MethodDefinitionHandle accessor)
        => !accessor.IsNil && IsVisible(reader.GetMethodDefinition(accessor).Attributes);

    private static bool IsVisible(MethodAttributes attributes) => (attributes & MethodAttributes.MemberAccessMask) switch
    {
        MethodAttributes.Public or MethodAttributes.Family or MethodAttributes.FamORAssem => true,
        _ => false,
    };

    private static bool IsVisible(FieldAttributes attributes) => (attributes & FieldAttributes.FieldAccessMask) switch
    {
        FieldAttributes.Public or FieldAttributes.Family or FieldAttributes.FamORAssem => true,
        _ => false,
    };
}
