namespace Compression.Core.Runtime;

/// <summary>The kind of value an ONNX input or output holds (<c>ONNXType</c>).</summary>
public enum OnnxValueKind
{
    /// <summary>Unknown.</summary>
    Unknown = 0,
    /// <summary>A dense tensor.</summary>
    Tensor = 1,
    /// <summary>A sequence of values.</summary>
    Sequence = 2,
    /// <summary>A map.</summary>
    Map = 3,
    /// <summary>An opaque value.</summary>
    Opaque = 4,
    /// <summary>A sparse tensor.</summary>
    SparseTensor = 5,
    /// <summary>An optional value.</summary>
    Optional = 6,
}

/// <summary>The name, kind, element type and shape of a session input or output as ONNX Runtime reports them.</summary>
public sealed class OnnxValueInfo
{
    internal OnnxValueInfo(string name, OnnxValueKind kind, TensorElementType elementType, long[] dimensions, string?[] symbolicDimensions)
    {
        Name = name;
        Kind = kind;
        ElementType = elementType;
        Dimensions = dimensions;
        SymbolicDimensions = symbolicDimensions;
    }

    /// <summary>The name in the model.</summary>
    public string Name { get; }

    /// <summary>What kind of value it is; only <see cref="OnnxValueKind.Tensor"/> carries a type and shape.</summary>
    public OnnxValueKind Kind { get; }

    /// <summary>The tensor element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>The dimensions; -1 where a dimension is not fixed.</summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>The name of each dimension that is symbolic (such as <c>batch</c>), or null where it has none.</summary>
    public IReadOnlyList<string?> SymbolicDimensions { get; }

    /// <summary>The shape as text, symbolic names in place of unknown sizes: <c>[batch, 64]</c>.</summary>
    public string ShapeText
    {
        get
        {
            var parts = new string[Dimensions.Count];
            for (int i = 0; i < parts.Length; i++)
            {
                parts[i] = Dimensions[i] >= 0 ? Dimensions[i].ToString(System.Globalization.CultureInfo.InvariantCulture)
                    : string.IsNullOrEmpty(SymbolicDimensions[i]) ? "?" : SymbolicDimensions[i]!;
            }

            return "[" + string.Join(", ", parts) + "]";
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {TensorElementTypes.Name(ElementType)}{ShapeText}";
}
