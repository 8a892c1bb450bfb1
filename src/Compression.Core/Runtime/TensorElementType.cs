namespace Compression.Core.Runtime;

/// <summary>Element types of ONNX tensors, numbered as ONNX numbers them (<c>TensorProto.DataType</c>).</summary>
public enum TensorElementType
{
    /// <summary>No type.</summary>
    Undefined = 0,
    /// <summary>32-bit float (<see cref="float"/>).</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer (<see cref="byte"/>).</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer (<see cref="sbyte"/>).</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer (<see cref="ushort"/>).</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer (<see cref="short"/>).</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer (<see cref="int"/>).</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer (<see cref="long"/>).</summary>
    Int64 = 7,
    /// <summary>UTF-8 string (<see cref="string"/>, in <see cref="OnnxStringTensor"/>).</summary>
    String = 8,
    /// <summary>Boolean, one byte (<see cref="bool"/>).</summary>
    Bool = 9,
    /// <summary>IEEE 16-bit float (<see cref="Half"/>).</summary>
    Float16 = 10,
    /// <summary>64-bit float (<see cref="double"/>).</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer (<see cref="uint"/>).</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer (<see cref="ulong"/>).</summary>
    UInt64 = 13,
    /// <summary>Complex of two 32-bit floats.</summary>
    Complex64 = 14,
    /// <summary>Complex of two 64-bit floats.</summary>
    Complex128 = 15,
    /// <summary>bfloat16: the upper 16 bits of a 32-bit float, held as raw bits in <see cref="ushort"/>.</summary>
    BFloat16 = 16,
}

/// <summary>Facts about <see cref="TensorElementType"/> values.</summary>
public static class TensorElementTypes
{
    /// <summary>The element type that holds values of <typeparamref name="T"/> by default.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is no ONNX element type.</exception>
    public static TensorElementType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) { return TensorElementType.Float; }
        if (typeof(T) == typeof(double)) { return TensorElementType.Double; }
        if (typeof(T) == typeof(Half)) { return TensorElementType.Float16; }
        if (typeof(T) == typeof(sbyte)) { return TensorElementType.Int8; }
        if (typeof(T) == typeof(byte)) { return TensorElementType.UInt8; }
        if (typeof(T) == typeof(short)) { return TensorElementType.Int16; }
        if (typeof(T) == typeof(ushort)) { return TensorElementType.UInt16; }
        if (typeof(T) == typeof(int)) { return TensorElementType.Int32; }
        if (typeof(T) == typeof(uint)) { return TensorElementType.UInt32; }
        if (typeof(T) == typeof(long)) { return TensorElementType.Int64; }
        if (typeof(T) == typeof(ulong)) { return TensorElementType.UInt64; }
        if (typeof(T) == typeof(bool)) { return TensorElementType.Bool; }
        throw new NotSupportedException($"{typeof(T).Name} is not an ONNX tensor element type.");
    }

    /// <summary>True when values of <typeparamref name="T"/> can hold elements of <paramref name="type"/>:
    /// its default type, or <see cref="ushort"/> for the raw bits of <see cref="TensorElementType.BFloat16"/>
    /// and <see cref="TensorElementType.Float16"/>.</summary>
    public static bool CanHold<T>(TensorElementType type) where T : unmanaged =>
        type == Of<T>() ||
        (typeof(T) == typeof(ushort) && type is TensorElementType.BFloat16 or TensorElementType.Float16);

    /// <summary>Bytes per element, or 0 for strings and undefined.</summary>
    public static int SizeInBytes(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.Int64 or TensorElementType.UInt64 or TensorElementType.Double or TensorElementType.Complex64 => 8,
        TensorElementType.Complex128 => 16,
        _ => 0,
    };

    /// <summary>The lower-case ONNX name of the type, as in model signatures (<c>float</c>, <c>int64</c>, <c>bfloat16</c>).</summary>
    public static string Name(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.Int16 => "int16",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        TensorElementType.String => "string",
        TensorElementType.Bool => "bool",
        TensorElementType.Float16 => "float16",
        TensorElementType.Double => "double",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.UInt64 => "uint64",
        TensorElementType.Complex64 => "complex64",
        TensorElementType.Complex128 => "complex128",
        TensorElementType.BFloat16 => "bfloat16",
        _ => "undefined",
    };
}
