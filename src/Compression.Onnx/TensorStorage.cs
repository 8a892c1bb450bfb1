using Compression.Onnx.Protos;
using Google.Protobuf.Collections;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx;

/// <summary>
/// Checks that a tensor's stored data agrees with its element type and dims, before anything reads it: a known element
/// type, dims that are not negative and whose product fits a 64-bit count (in bytes too), <c>raw_data</c> of exactly the
/// bytes the dims call for, or the typed field of the element type holding exactly as many entries, each in range; and,
/// for sparse tensors, values and indices of the shapes ONNX prescribes with every index inside the dense shape. A tensor
/// that passes can be read with <see cref="TensorValues"/> without a length, shape or range error.
/// </summary>
/// <remarks>
/// Tensors whose data is in an external file are checked for their element type and dims only: their bytes are checked
/// where they are read (<see cref="OnnxModelFile.LoadExternalData(TensorProto, string, string?)"/>).
/// </remarks>
public static class TensorStorage
{
    /// <summary>Checks one dense tensor.</summary>
    /// <param name="tensor">The tensor.</param>
    /// <exception cref="OnnxFormatException">The tensor's data does not agree with its element type and dims; the message names the tensor.</exception>
    public static void Check(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var dataType = (DataType)tensor.DataType;
        if (dataType == DataType.Undefined || !Enum.IsDefined(dataType))
        {
            throw new OnnxFormatException(
                $"{TensorDataError.Describe(tensor)} has element type {tensor.DataType}, which is no ONNX element type. The tensor is corrupt; export the model again.");
        }

        long elementCount = ElementCount(tensor);
        bool isString = dataType == DataType.String;
        int bits = 0;
        if (!isString && !TensorDataTypes.TryGetSizeInBits(dataType, out bits))
        {
            throw new OnnxFormatException($"{TensorDataError.Describe(tensor)} has an element type without a fixed width. The tensor is corrupt; export the model again.");
        }

        // The bytes the data takes must be countable too: a count that fits 64 bits can still overflow once multiplied by the width.
        decimal bytes = isString ? 0 : Math.Ceiling(elementCount * (decimal)bits / 8);
        if (bytes > long.MaxValue)
        {
            throw new OnnxFormatException(
                $"{TensorDataError.Describe(tensor)} has {elementCount} elements, more bytes than a 64-bit size can count. The tensor is corrupt; export the model again.");
        }

        if (tensor.Segment is not null)
        {
            throw TensorDataError.Segmented(tensor);
        }

        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            return;
        }

        if (tensor.HasRawData)
        {
            if (isString)
            {
                throw new OnnxFormatException(
                    $"{TensorDataError.Describe(tensor)} stores its strings in raw_data, where ONNX keeps them in string_data. The tensor is corrupt; export the model again.");
            }

            if (tensor.RawData.Length != bytes)
            {
                throw new OnnxFormatException(
                    $"{TensorDataError.Describe(tensor)} should hold {elementCount} elements of {bits} bits ({bytes} bytes) in raw_data, but raw_data has " +
                    $"{tensor.RawData.Length} bytes. The tensor is corrupt or its dims do not match its data; export the model again.");
            }

            return;
        }

        CheckTypedFields(tensor, dataType, elementCount);
    }

    /// <summary>Checks a sparse tensor: its values and indices as dense tensors, their shapes, and every index against the dense shape.</summary>
    /// <param name="sparse">The sparse tensor.</param>
    /// <exception cref="OnnxFormatException">The sparse tensor is not as ONNX prescribes; the message names it.</exception>
    public static void CheckSparse(SparseTensorProto sparse)
    {
        ArgumentNullException.ThrowIfNull(sparse);
        string name = sparse.Values is { } v && v.Name.Length > 0 ? $"Sparse tensor '{v.Name}'" : "An unnamed sparse tensor";
        if (sparse.Values is null || sparse.Indices is null)
        {
            throw new OnnxFormatException($"{name} lacks its {(sparse.Values is null ? "values" : "indices")}. The tensor is corrupt; export the model again.");
        }

        Check(sparse.Values);
        Check(sparse.Indices);
        long[] dims = [.. sparse.Dims];
        long denseCount;
        try
        {
            denseCount = TensorShape.ElementCount(dims);
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException($"{name} has an invalid dense shape {TensorShape.Format(dims)}: {e.Message}", e);
        }

        if (sparse.Values.Dims.Count != 1)
        {
            throw new OnnxFormatException(
                $"{name} has values of shape {TensorShape.Format(sparse.Values.Dims)}; ONNX requires a 1-D list of the non-zero values. The tensor is corrupt; export the model again.");
        }

        long nonZero = sparse.Values.Dims[0];
        if (sparse.Indices.DataType != (int)DataType.Int64)
        {
            throw new OnnxFormatException(
                $"{name} has indices of element type {TensorDataTypes.Describe((DataType)sparse.Indices.DataType)}; ONNX requires INT64. The tensor is corrupt; export the model again.");
        }

        RepeatedField<long> indexDims = sparse.Indices.Dims;
        bool linear = indexDims.Count == 1 && indexDims[0] == nonZero;
        bool coordinates = indexDims.Count == 2 && indexDims[0] == nonZero && indexDims[1] == dims.Length;
        if (!linear && !coordinates)
        {
            throw new OnnxFormatException(
                $"{name} has {nonZero} values and indices of shape {TensorShape.Format(indexDims)}; ONNX requires [{nonZero}] (linear indices) or " +
                $"[{nonZero}, {dims.Length}] (one coordinate per axis). The tensor is corrupt; export the model again.");
        }

        if (sparse.Indices.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new OnnxFormatException($"{name} keeps its indices in an external file, which is not supported; store them in the model.");
        }

        // A readable INT64 tensor now: every index must lie inside the dense shape.
        long[] indices = sparse.Indices.ToArray<long>();
        for (int i = 0; i < indices.Length; i++)
        {
            long index = indices[i];
            long limit = linear ? denseCount : dims[i % dims.Length];
            if (index < 0 || index >= limit)
            {
                string what = linear ? $"linear index {index} (entry {i})" : $"coordinate {index} on axis {i % dims.Length} (value {i / dims.Length})";
                throw new OnnxFormatException(
                    $"{name} of dense shape {TensorShape.Format(dims)} has {what}, outside the shape. The tensor is corrupt; export the model again.");
            }
        }
    }

    private static long ElementCount(TensorProto tensor)
    {
        try
        {
            return TensorShape.ElementCount(tensor.Dims);
        }
        catch (ArgumentException e)
        {
            throw TensorDataError.BadShape(tensor, e);
        }
    }

    private static void CheckTypedFields(TensorProto tensor, DataType dataType, long elementCount)
    {
        (int field, long expected) = dataType switch
        {
            DataType.Complex64 => (TensorProto.FloatDataFieldNumber, elementCount * 2),
            DataType.Complex128 => (TensorProto.DoubleDataFieldNumber, elementCount * 2),
            DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => (TensorProto.Int32DataFieldNumber, (elementCount + 1) / 2),
            _ => (TypedTensorFields.FieldFor(dataType), elementCount),
        };
        int found = TypedTensorFields.Count(tensor, field);
        if (found != expected)
        {
            throw TensorDataError.WrongFieldCount(tensor, TensorProto.Descriptor.FindFieldByNumber(field).Name, found, expected);
        }

        (long min, long max) = dataType switch
        {
            DataType.Int8 or DataType.Uint8 => (sbyte.MinValue, byte.MaxValue),
            DataType.Int16 or DataType.Uint16 or DataType.Float16 or DataType.Bfloat16 => (short.MinValue, ushort.MaxValue),
            DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz or DataType.Float8E8M0 => (sbyte.MinValue, byte.MaxValue),
            _ => (int.MinValue, int.MaxValue),
        };
        if (field == TensorProto.Int32DataFieldNumber && (min, max) != (int.MinValue, int.MaxValue))
        {
            RepeatedField<int> values = tensor.Int32Data;
            for (int i = 0; i < values.Count; i++)
            {
                if (values[i] < min || values[i] > max)
                {
                    throw TensorDataError.ValueOutOfRange(tensor, "int32_data", i, values[i]);
                }
            }
        }

        if (dataType == DataType.Uint32)
        {
            RepeatedField<ulong> values = tensor.Uint64Data;
            for (int i = 0; i < values.Count; i++)
            {
                if (values[i] > uint.MaxValue)
                {
                    throw TensorDataError.ValueOutOfRange(tensor, "uint64_data", i, values[i]);
                }
            }
        }
    }
}
