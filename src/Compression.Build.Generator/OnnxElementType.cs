using System.Collections.Generic;

namespace Compression.Build.Generator;

/// <summary>How a tensor of an ONNX element type can be passed to the generated class besides an <c>OrtValue</c>.</summary>
internal enum TensorRepresentation
{
    /// <summary>An array of a .NET type that Microsoft.ML.OnnxRuntime wraps without copying.</summary>
    Typed,

    /// <summary>A <c>string[]</c>, copied into a string tensor.</summary>
    Strings,

    /// <summary>Only an <c>OrtValue</c> the caller creates: the element type has no .NET type in Microsoft.ML.OnnxRuntime.</summary>
    Untyped,
}

/// <summary>An ONNX element type and how the generated class names and checks it in Microsoft.ML.OnnxRuntime's API.</summary>
internal sealed class OnnxElementType
{
    private const string Ort = "global::Microsoft.ML.OnnxRuntime.";

    private static readonly Dictionary<string, OnnxElementType> ByName = Create();

    private OnnxElementType(string name, int number, TensorRepresentation representation, string? clrType, string? enumMember)
    {
        Name = name;
        Number = number;
        Representation = representation;
        ClrType = clrType;
        EnumMember = enumMember;
    }

    /// <summary>The ONNX name, as signatures write it (<c>float</c>).</summary>
    public string Name { get; }

    /// <summary>ONNX's number for the type (<c>TensorProto.DataType</c>), or -1 when the name is unknown.</summary>
    public int Number { get; }

    /// <summary>How tensors of this type are passed besides an <c>OrtValue</c>.</summary>
    public TensorRepresentation Representation { get; }

    /// <summary>The C# element type of the array overloads (<c>float</c>, <c>global::Microsoft.ML.OnnxRuntime.Float16</c>,
    /// <c>string</c>), or null when there is none.</summary>
    public string? ClrType { get; }

    /// <summary>The member of Microsoft.ML.OnnxRuntime's <c>TensorElementType</c>, or null when it has none.</summary>
    public string? EnumMember { get; }

    /// <summary>
    /// A C# condition that is true when <paramref name="elementType"/> (an expression of type
    /// <c>Microsoft.ML.OnnxRuntime.Tensors.TensorElementType</c>) is not this type.
    /// </summary>
    public string Differs(string elementType) => EnumMember is not null
        ? elementType + " != " + Ort + "Tensors.TensorElementType." + EnumMember
        : "(int)" + elementType + " != " + Number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The representation of <paramref name="name"/>; an untyped one for names this generator does not know.</summary>
    public static OnnxElementType Get(string name) =>
        ByName.TryGetValue(name, out OnnxElementType? type) ? type : new OnnxElementType(name, -1, TensorRepresentation.Untyped, null, null);

    private static Dictionary<string, OnnxElementType> Create()
    {
        var types = new Dictionary<string, OnnxElementType>(System.StringComparer.Ordinal);
        void Add(string name, int number, TensorRepresentation representation, string? clrType, string? enumMember) =>
            types.Add(name, new OnnxElementType(name, number, representation, clrType, enumMember));

        Add("float", 1, TensorRepresentation.Typed, "float", "Float");
        Add("uint8", 2, TensorRepresentation.Typed, "byte", "UInt8");
        Add("int8", 3, TensorRepresentation.Typed, "sbyte", "Int8");
        Add("uint16", 4, TensorRepresentation.Typed, "ushort", "UInt16");
        Add("int16", 5, TensorRepresentation.Typed, "short", "Int16");
        Add("int32", 6, TensorRepresentation.Typed, "int", "Int32");
        Add("int64", 7, TensorRepresentation.Typed, "long", "Int64");
        Add("string", 8, TensorRepresentation.Strings, "string", "String");
        Add("bool", 9, TensorRepresentation.Typed, "bool", "Bool");
        Add("float16", 10, TensorRepresentation.Typed, Ort + "Float16", "Float16");
        Add("double", 11, TensorRepresentation.Typed, "double", "Double");
        Add("uint32", 12, TensorRepresentation.Typed, "uint", "UInt32");
        Add("uint64", 13, TensorRepresentation.Typed, "ulong", "UInt64");
        Add("complex64", 14, TensorRepresentation.Untyped, null, "Complex64");
        Add("complex128", 15, TensorRepresentation.Untyped, null, "Complex128");
        Add("bfloat16", 16, TensorRepresentation.Typed, Ort + "BFloat16", "BFloat16");
        Add("float8e4m3fn", 17, TensorRepresentation.Untyped, null, null);
        Add("float8e4m3fnuz", 18, TensorRepresentation.Untyped, null, null);
        Add("float8e5m2", 19, TensorRepresentation.Untyped, null, null);
        Add("float8e5m2fnuz", 20, TensorRepresentation.Untyped, null, null);
        Add("uint4", 21, TensorRepresentation.Untyped, null, null);
        Add("int4", 22, TensorRepresentation.Untyped, null, null);
        Add("float4e2m1", 23, TensorRepresentation.Untyped, null, null);
        Add("float8e8m0", 24, TensorRepresentation.Untyped, null, null);
        return types;
    }
}
