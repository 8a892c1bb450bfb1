using Compression.Onnx.Protos;
using Google.Protobuf.Reflection;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx;

/// <summary>
/// Facts about ONNX tensor element types (<see cref="TensorProto.Types.DataType"/>): their width and the .NET type
/// that holds one element.
/// </summary>
public static class TensorDataTypes
{
    private static readonly EnumDescriptor DataTypeDescriptor = TensorProto.Descriptor.EnumTypes.Single(e => e.Name == "DataType");

    /// <summary>The ONNX element type that <typeparamref name="T"/> holds.</summary>
    /// <typeparam name="T">
    /// One of <see cref="float"/>, <see cref="double"/>, <see cref="Half"/>, <see cref="BFloat16"/>, <see cref="sbyte"/>,
    /// <see cref="byte"/>, <see cref="short"/>, <see cref="ushort"/>, <see cref="int"/>, <see cref="uint"/>,
    /// <see cref="long"/>, <see cref="ulong"/> or <see cref="bool"/>.
    /// </typeparam>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is none of those.</exception>
    public static DataType Of<T>()
        where T : unmanaged
    {
        var dataType = ElementTypeOf<T>.Value;
        return dataType != DataType.Undefined
            ? dataType
            : throw new NotSupportedException(
                $"{typeof(T)} is not an ONNX tensor element type. Use float, double, Half, BFloat16, sbyte, byte, short, ushort, " +
                "int, uint, long, ulong or bool (strings have their own methods).");
    }

    /// <summary>The ONNX element type that <paramref name="type"/> holds; <see cref="string"/> gives <c>STRING</c>.</summary>
    /// <param name="type">A .NET type that <see cref="Of{T}"/> accepts, or <see cref="string"/>.</param>
    /// <exception cref="NotSupportedException">No ONNX element type corresponds to <paramref name="type"/>.</exception>
    public static DataType FromClrType(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return TryFromClrType(type, out var dataType)
            ? dataType
            : throw new NotSupportedException(
                $"{type} is not an ONNX tensor element type. Use float, double, Half, BFloat16, sbyte, byte, short, ushort, " +
                "int, uint, long, ulong, bool or string.");
    }

    /// <summary>The ONNX element type that <paramref name="type"/> holds, if there is one.</summary>
    /// <param name="type">A .NET type.</param>
    /// <param name="dataType">The element type, or <c>UNDEFINED</c>.</param>
    /// <returns>Whether <paramref name="type"/> holds an ONNX element type.</returns>
    public static bool TryFromClrType(Type type, out DataType dataType)
    {
        ArgumentNullException.ThrowIfNull(type);
        dataType = Type.GetTypeCode(type) switch
        {
            TypeCode.Single => DataType.Float,
            TypeCode.Double => DataType.Double,
            TypeCode.SByte => DataType.Int8,
            TypeCode.Byte => DataType.Uint8,
            TypeCode.Int16 => DataType.Int16,
            TypeCode.UInt16 => DataType.Uint16,
            TypeCode.Int32 => DataType.Int32,
            TypeCode.UInt32 => DataType.Uint32,
            TypeCode.Int64 => DataType.Int64,
            TypeCode.UInt64 => DataType.Uint64,
            TypeCode.Boolean => DataType.Bool,
            TypeCode.String => DataType.String,
            _ when type == typeof(Half) => DataType.Float16,
            _ when type == typeof(BFloat16) => DataType.Bfloat16,
            _ => DataType.Undefined,
        };

        // Enums have the type code of their underlying type but are not element types.
        if (type.IsEnum)
        {
            dataType = DataType.Undefined;
        }

        return dataType != DataType.Undefined;
    }

    /// <summary>
    /// The .NET type that holds one element of <paramref name="dataType"/>, or null for element types this library
    /// has no type for (complex numbers, 8-bit and 4-bit floats, 4-bit integers).
    /// </summary>
    /// <param name="dataType">An ONNX element type.</param>
    public static Type? ToClrType(DataType dataType) => dataType switch
    {
        DataType.Float => typeof(float),
        DataType.Double => typeof(double),
        DataType.Float16 => typeof(Half),
        DataType.Bfloat16 => typeof(BFloat16),
        DataType.Int8 => typeof(sbyte),
        DataType.Uint8 => typeof(byte),
        DataType.Int16 => typeof(short),
        DataType.Uint16 => typeof(ushort),
        DataType.Int32 => typeof(int),
        DataType.Uint32 => typeof(uint),
        DataType.Int64 => typeof(long),
        DataType.Uint64 => typeof(ulong),
        DataType.Bool => typeof(bool),
        DataType.String => typeof(string),
        _ => null,
    };

    /// <summary>
    /// The width of one element in bits as <c>raw_data</c> stores it: 4 for the 4-bit types, 8 to 128 for the others.
    /// </summary>
    /// <param name="dataType">A fixed-width ONNX element type.</param>
    /// <exception cref="ArgumentException"><paramref name="dataType"/> is <c>STRING</c>, <c>UNDEFINED</c> or unknown.</exception>
    public static int SizeInBits(DataType dataType) => TryGetSizeInBits(dataType, out int bits)
        ? bits
        : throw new ArgumentException(
            $"ONNX element type {Describe(dataType)} has no fixed width; strings are stored one by one in string_data.",
            nameof(dataType));

    /// <summary>The width of one element in bytes as <c>raw_data</c> stores it.</summary>
    /// <param name="dataType">An ONNX element type of at least 8 bits.</param>
    /// <exception cref="ArgumentException">
    /// <paramref name="dataType"/> is <c>STRING</c>, <c>UNDEFINED</c>, unknown, or narrower than a byte (<c>INT4</c>,
    /// <c>UINT4</c>, <c>FLOAT4E2M1</c>: two elements share a byte; use <see cref="SizeInBits"/>).
    /// </exception>
    public static int SizeInBytes(DataType dataType)
    {
        int bits = SizeInBits(dataType);
        return bits % 8 == 0
            ? bits / 8
            : throw new ArgumentException(
                $"ONNX element type {Describe(dataType)} is {bits} bits wide, less than a byte: two elements share a byte. Use SizeInBits.",
                nameof(dataType));
    }

    /// <summary>The width of one element in bits, if the element type has a fixed width.</summary>
    /// <param name="dataType">An ONNX element type.</param>
    /// <param name="bits">The width in bits, or 0.</param>
    /// <returns>Whether the element type has a fixed width.</returns>
    public static bool TryGetSizeInBits(DataType dataType, out int bits)
    {
        bits = dataType switch
        {
            DataType.Bool or DataType.Int8 or DataType.Uint8 => 8,
            DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz or DataType.Float8E8M0 => 8,
            DataType.Int16 or DataType.Uint16 or DataType.Float16 or DataType.Bfloat16 => 16,
            DataType.Int32 or DataType.Uint32 or DataType.Float => 32,
            DataType.Int64 or DataType.Uint64 or DataType.Double or DataType.Complex64 => 64,
            DataType.Complex128 => 128,
            DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => 4,
            _ => 0,
        };
        return bits != 0;
    }

    /// <summary>The element type's name as the ONNX specification writes it, e.g. <c>FLOAT16</c>, or its number when unknown.</summary>
    /// <param name="dataType">An ONNX element type.</param>
    public static string Describe(DataType dataType) =>
        DataTypeDescriptor.FindValueByNumber((int)dataType)?.Name ?? $"<unknown element type {(int)dataType}>";

    /// <summary>The element type of <typeparamref name="T"/>, found once per type; <c>UNDEFINED</c> when there is none.</summary>
    private static class ElementTypeOf<T>
        where T : unmanaged
    {
        public static readonly DataType Value = TryFromClrType(typeof(T), out var dataType) ? dataType : DataType.Undefined;
    }
}
