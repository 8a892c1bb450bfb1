using System.Collections.Generic;

namespace Compression.Build.Generator;

/// <summary>How a tensor of an ONNX element type appears in the generated C#.</summary>
internal enum TensorRepresentation
{
    /// <summary><c>OnnxTensor&lt;T&gt;</c> over an array of an unmanaged .NET type.</summary>
    Typed,

    /// <summary><c>OnnxStringTensor</c> over a <c>string[]</c>.</summary>
    Strings,

    /// <summary>An untyped <c>OnnxTensor</c>: the element type has no .NET counterpart in Compression.Runtime.</summary>
    Untyped,
}

/// <summary>An ONNX element type and the C# types that carry its tensors in the generated class.</summary>
internal sealed class OnnxElementType
{
    private const string Runtime = "global::Compression.Runtime.";

    private static readonly Dictionary<string, OnnxElementType> ByName = Create();

    private OnnxElementType(string name, TensorRepresentation representation, string? clrType, string? enumMember, string? note)
    {
        Name = name;
        Representation = representation;
        ClrType = clrType;
        EnumMember = enumMember;
        Note = note;
    }

    /// <summary>The ONNX name, as signatures write it (<c>float</c>).</summary>
    public string Name { get; }

    /// <summary>How tensors of this type are represented.</summary>
    public TensorRepresentation Representation { get; }

    /// <summary>The C# element type (<c>float</c>, <c>global::System.Half</c>, <c>string</c>), or null for untyped tensors.</summary>
    public string? ClrType { get; }

    /// <summary>The <c>TensorElementType</c> member, or null when Compression.Runtime has none.</summary>
    public string? EnumMember { get; }

    /// <summary>What the documentation adds about the representation, as XML documentation text, or null.</summary>
    public string? Note { get; }

    /// <summary>The C# type of a tensor of this type.</summary>
    public string TensorType => Representation switch
    {
        TensorRepresentation.Typed => Runtime + "OnnxTensor<" + ClrType + ">",
        TensorRepresentation.Strings => Runtime + "OnnxStringTensor",
        _ => Runtime + "OnnxTensor",
    };

    /// <summary>True when the .NET element type <c>ushort</c> is shared with another ONNX type, so inputs must
    /// check the tensor's element type (uint16 and bfloat16 both travel in <c>OnnxTensor&lt;ushort&gt;</c>).</summary>
    public bool NeedsElementTypeCheck => ClrType == "ushort";

    /// <summary>The representation of <paramref name="name"/>; an untyped one for names Compression.Runtime does not know.</summary>
    public static OnnxElementType Get(string name) =>
        ByName.TryGetValue(name, out OnnxElementType? type) ? type : new OnnxElementType(name, TensorRepresentation.Untyped, null, null, null);

    private static Dictionary<string, OnnxElementType> Create()
    {
        var types = new Dictionary<string, OnnxElementType>(System.StringComparer.Ordinal);
        void Add(string name, string clrType, string enumMember, string? note = null) =>
            types.Add(name, new OnnxElementType(name, TensorRepresentation.Typed, clrType, enumMember, note));

        Add("float", "float", "Float");
        Add("double", "double", "Double");
        Add("float16", "global::System.Half", "Float16");
        Add("bfloat16", "ushort", "BFloat16",
            "elements are the raw bits in <see cref=\"ushort\"/>; create the tensor with <c>new OnnxTensor&lt;ushort&gt;(bits, shape, TensorElementType.BFloat16)</c>");
        Add("int8", "sbyte", "Int8");
        Add("uint8", "byte", "UInt8");
        Add("int16", "short", "Int16");
        Add("uint16", "ushort", "UInt16");
        Add("int32", "int", "Int32");
        Add("uint32", "uint", "UInt32");
        Add("int64", "long", "Int64");
        Add("uint64", "ulong", "UInt64");
        Add("bool", "bool", "Bool");
        types.Add("string", new OnnxElementType("string", TensorRepresentation.Strings, "string", "String", null));
        return types;
    }
}
