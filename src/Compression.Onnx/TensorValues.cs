using System.Runtime.CompilerServices;
using System.Text;
using Compression.Onnx.Protos;
using Google.Protobuf;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx;

/// <summary>
/// Reads the elements of a <see cref="TensorProto"/> as .NET values, and creates tensors from values.
/// </summary>
/// <remarks>
/// Reading accepts both storage forms ONNX allows: <c>raw_data</c> (fixed-width little-endian bytes) and the typed
/// repeated fields (<c>float_data</c>, <c>int32_data</c>, <c>int64_data</c>, <c>double_data</c>, <c>uint64_data</c>,
/// <c>string_data</c>); <c>raw_data</c> wins when a tensor has both. Created tensors store their elements in
/// <c>raw_data</c>, except strings, which ONNX keeps in <c>string_data</c>.
/// </remarks>
public static class TensorValues
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>A view of the tensor's elements as <typeparamref name="T"/>, in place when the data allows.</summary>
    /// <typeparam name="T">The .NET type of the tensor's element type; see <see cref="TensorDataTypes.Of{T}"/>.</typeparam>
    /// <param name="tensor">The tensor.</param>
    /// <exception cref="OnnxFormatException">
    /// The tensor's element type is not the one <typeparamref name="T"/> holds, its data is still in an external file,
    /// or its data does not hold exactly the number of elements its dims call for.
    /// </exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an ONNX element type.</exception>
    public static TensorView<T> View<T>(this TensorProto tensor)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var dataType = TensorDataTypes.Of<T>();
        if (tensor.DataType != (int)dataType)
        {
            throw TensorDataError.WrongElementType(tensor, dataType, typeof(T).Name);
        }

        var (dims, elementCount) = CheckedShape(tensor);
        if (tensor.HasRawData)
        {
            var rawData = tensor.RawData;
            int elementSize = Unsafe.SizeOf<T>();
            if (elementCount > int.MaxValue || rawData.Length != elementCount * elementSize)
            {
                throw TensorDataError.WrongRawLength(tensor, elementCount, elementSize);
            }

            return RawTensorData.CanReadInPlace<T>(rawData.Span)
                ? new TensorView<T>(tensor, dims, elementCount, rawData, values: null)
                : new TensorView<T>(tensor, dims, elementCount, rawData: null, RawTensorData.Decode<T>(rawData.Span));
        }

        var values = TypedTensorFields.Read<T>(tensor, dataType, elementCount);
        return new TensorView<T>(tensor, dims, elementCount, rawData: null, values);
    }

    /// <summary>The tensor's elements as a new array of <typeparamref name="T"/>, in row-major order.</summary>
    /// <typeparam name="T">The .NET type of the tensor's element type; see <see cref="TensorDataTypes.Of{T}"/>.</typeparam>
    /// <param name="tensor">The tensor.</param>
    /// <exception cref="OnnxFormatException">
    /// The tensor's element type is not the one <typeparamref name="T"/> holds, its data is still in an external file,
    /// or its data does not hold exactly the number of elements its dims call for.
    /// </exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an ONNX element type.</exception>
    public static T[] ToArray<T>(this TensorProto tensor)
        where T : unmanaged => tensor.View<T>().TakeArray();

    /// <summary>
    /// The tensor's elements as a new array of the .NET type of its element type: <c>float[]</c> for FLOAT,
    /// <c>Half[]</c> for FLOAT16, <c>string[]</c> for STRING, and so on (see <see cref="TensorDataTypes.ToClrType"/>).
    /// </summary>
    /// <param name="tensor">The tensor.</param>
    /// <exception cref="OnnxFormatException">The data is external or does not match the dims.</exception>
    /// <exception cref="NotSupportedException">The element type has no .NET type here (complex, 8-bit and 4-bit floats, 4-bit integers).</exception>
    public static Array ToArray(this TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return (DataType)tensor.DataType switch
        {
            DataType.Float => tensor.ToArray<float>(),
            DataType.Double => tensor.ToArray<double>(),
            DataType.Float16 => tensor.ToArray<Half>(),
            DataType.Bfloat16 => tensor.ToArray<BFloat16>(),
            DataType.Int8 => tensor.ToArray<sbyte>(),
            DataType.Uint8 => tensor.ToArray<byte>(),
            DataType.Int16 => tensor.ToArray<short>(),
            DataType.Uint16 => tensor.ToArray<ushort>(),
            DataType.Int32 => tensor.ToArray<int>(),
            DataType.Uint32 => tensor.ToArray<uint>(),
            DataType.Int64 => tensor.ToArray<long>(),
            DataType.Uint64 => tensor.ToArray<ulong>(),
            DataType.Bool => tensor.ToArray<bool>(),
            DataType.String => tensor.ToStrings(),
            var other => throw new NotSupportedException(
                $"{TensorDataError.Describe(tensor)} has element type {TensorDataTypes.Describe(other)}, which has no .NET element type " +
                "in this library; read its raw_data bytes directly."),
        };
    }

    /// <summary>The elements of a STRING tensor, decoded from UTF-8.</summary>
    /// <param name="tensor">A tensor of element type STRING.</param>
    /// <exception cref="OnnxFormatException">
    /// The tensor is not a STRING tensor, its data is external, its <c>string_data</c> does not hold exactly the number of
    /// elements its dims call for, or an element is not valid UTF-8 (read <c>StringData</c> for the bytes).
    /// </exception>
    public static string[] ToStrings(this TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.DataType != (int)DataType.String)
        {
            throw TensorDataError.WrongElementType(tensor, DataType.String, nameof(String));
        }

        var (_, elementCount) = CheckedShape(tensor);
        if (tensor.StringData.Count != elementCount)
        {
            throw TensorDataError.WrongFieldCount(tensor, "string_data", tensor.StringData.Count, elementCount);
        }

        var strings = new string[tensor.StringData.Count];
        for (int i = 0; i < strings.Length; i++)
        {
            try
            {
                strings[i] = StrictUtf8.GetString(tensor.StringData[i].Span);
            }
            catch (DecoderFallbackException ex)
            {
                throw new OnnxFormatException(
                    $"{TensorDataError.Describe(tensor)} has element {i} that is not valid UTF-8 text. Read its bytes from StringData instead.", ex);
            }
        }

        return strings;
    }

    /// <summary>A tensor holding <paramref name="values"/> in <c>raw_data</c>.</summary>
    /// <typeparam name="T">The .NET type of the element type; see <see cref="TensorDataTypes.Of{T}"/>.</typeparam>
    /// <param name="name">The tensor's name; an empty name is left unset.</param>
    /// <param name="dims">The shape; empty for a scalar.</param>
    /// <param name="values">The elements in row-major order; as many as <paramref name="dims"/> call for.</param>
    /// <exception cref="ArgumentException">The number of values does not match the shape, or a dimension is negative.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an ONNX element type.</exception>
    public static TensorProto Create<T>(string name, ReadOnlySpan<long> dims, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var tensor = NewTensor(name, dims, TensorDataTypes.Of<T>(), values.Length, nameof(values));
        tensor.RawData = RawTensorData.Encode(values);
        return tensor;
    }

    /// <summary>A STRING tensor holding <paramref name="values"/> in <c>string_data</c>, encoded as UTF-8.</summary>
    /// <param name="name">The tensor's name; an empty name is left unset.</param>
    /// <param name="dims">The shape; empty for a scalar.</param>
    /// <param name="values">The elements in row-major order; as many as <paramref name="dims"/> call for.</param>
    /// <exception cref="ArgumentException">The number of values does not match the shape, or a dimension is negative.</exception>
    public static TensorProto CreateStrings(string name, ReadOnlySpan<long> dims, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var tensor = NewTensor(name, dims, DataType.String, values.Count, nameof(values));
        for (int i = 0; i < values.Count; i++)
        {
            string value = values[i] ?? throw new ArgumentException($"Element {i} is null; a STRING tensor cannot hold null.", nameof(values));
            tensor.StringData.Add(ByteString.CopyFromUtf8(value));
        }

        return tensor;
    }

    private static TensorProto NewTensor(string name, ReadOnlySpan<long> dims, DataType dataType, int valueCount, string valuesParameterName)
    {
        ArgumentNullException.ThrowIfNull(name);
        long elementCount = TensorShape.ElementCount(dims);
        if (elementCount != valueCount)
        {
            throw new ArgumentException(
                $"The shape {TensorShape.Format(dims.ToArray())} holds {elementCount} elements, but {valueCount} values were given.",
                valuesParameterName);
        }

        var tensor = new TensorProto { DataType = (int)dataType };
        if (name.Length > 0)
        {
            tensor.Name = name;
        }

        foreach (long dim in dims)
        {
            tensor.Dims.Add(dim);
        }

        return tensor;
    }

    private static (long[] Dims, long ElementCount) CheckedShape(TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw TensorDataError.StillExternal(tensor);
        }

        if (tensor.Segment is not null)
        {
            throw TensorDataError.Segmented(tensor);
        }

        var dims = new long[tensor.Dims.Count];
        tensor.Dims.CopyTo(dims, 0);
        try
        {
            return (dims, TensorShape.ElementCount(dims));
        }
        catch (ArgumentException ex)
        {
            throw TensorDataError.BadShape(tensor, ex);
        }
    }
}
