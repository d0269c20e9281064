using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Text;

namespace Aio.Build.DocFilter;

/// <summary>
/// Spells types from signatures the way documentation comment IDs do: <c>System.Int32</c>, nested types joined with
/// dots, <c>List{System.Int32}</c>, <c>`0</c> and <c>``0</c> for type and method type parameters, <c>@</c> for by-ref,
/// <c>*</c> for pointers, <c>[]</c> and <c>[0:,0:]</c> for arrays. Custom modifiers are not part of the ID.
/// </summary>
internal sealed class DocIdTypeProvider : ISignatureTypeProvider<string, object?>
{
    public static string TypeName(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        string name = reader.GetString(type.Name);
        var declaring = type.GetDeclaringType();
        if (!declaring.IsNil)
        {
            return TypeName(reader, declaring) + "." + name;
        }

        string ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    public string GetPrimitiveType(PrimitiveTypeCode typeCode) => "System." + typeCode;

    public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => TypeName(reader, handle);

    public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
    {
        var reference = reader.GetTypeReference(handle);
        string name = reader.GetString(reference.Name);
        if (reference.ResolutionScope.Kind == HandleKind.TypeReference)
        {
            return GetTypeFromReference(reader, (TypeReferenceHandle)reference.ResolutionScope, rawTypeKind) + "." + name;
        }

        string ns = reader.GetString(reference.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind)
        => reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

    public string GetSZArrayType(string elementType) => elementType + "[]";

    public string GetArrayType(string elementType, ArrayShape shape)
    {
        var dimensions = new string[shape.Rank];
        for (int i = 0; i < shape.Rank; i++)
        {
            int lower = i < shape.LowerBounds.Length ? shape.LowerBounds[i] : 0;
            string size = i < shape.Sizes.Length ? (lower + shape.Sizes[i] - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty;
            dimensions[i] = lower.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + size;
        }

        return elementType + "[" + string.Join(",", dimensions) + "]";
    }

    public string GetByReferenceType(string elementType) => elementType + "@";

    public string GetPointerType(string elementType) => elementType + "*";

    public string GetPinnedType(string elementType) => elementType;

    public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

    public string GetGenericTypeParameter(object? genericContext, int index) => "`" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string GetGenericMethodParameter(object? genericContext, int index) => "``" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string GetFunctionPointerType(MethodSignature<string> signature)
        => "=FUNC:" + signature.ReturnType + "(" + string.Join(",", signature.ParameterTypes) + ")";

    public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments)
    {
        // Outer`1.Inner`1 with arguments [A, B] is Outer{A}.Inner{B}: each arity suffix takes the next arguments.
        var result = new StringBuilder();
        int next = 0;
        for (int i = 0; i < genericType.Length; i++)
        {
            if (genericType[i] != '`')
            {
                result.Append(genericType[i]);
                continue;
            }

            int start = i + 1;
            int end = start;
            while (end < genericType.Length && char.IsAsciiDigit(genericType[end]))
            {
                end++;
            }

            int arity = int.Parse(genericType.AsSpan(start, end - start), System.Globalization.CultureInfo.InvariantCulture);
            result.Append('{').AppendJoin(',', typeArguments.Skip(next).Take(arity)).Append('}');
            next += arity;
            i = end - 1;
        }

        return result.ToString();
    }
}
