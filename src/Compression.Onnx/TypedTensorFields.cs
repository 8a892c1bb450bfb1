using System.Runtime.InteropServices;
using Compression.Onnx.Protos;
using Google.Protobuf.Collections;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx;

/// <summary>
/// Reads tensor elements from the typed repeated fields of <see cref="TensorProto"/>, as the ONNX specification assigns
/// them: <c>float_data</c> for FLOAT; <c>double_data</c> for DOUBLE; <c>int64_data</c> for INT64; <c>uint64_data</c>
/// for UINT32 and UINT64; <c>int32_data</c> for INT32 and, one element per entry, for INT16, INT8, UINT16, UINT8,
/// BOOL and the bits of FLOAT16 and BFLOAT16.
/// </summary>
internal static class TypedTensorFields
{
    /// <summary>The elements, checked to number <paramref name="elementCount"/> and to fit their type.</summary>
    /// <param name="tensor">A tensor without raw_data whose element type is <paramref name="dataType"/>.</param>
    /// <param name="dataType">The tensor's element type, the one <typeparamref name="T"/> holds.</param>
    /// <param name="elementCount">The number of elements its dims call for.</param>
    public static T[] Read<T>(TensorProto tensor, DataType dataType, long elementCount)
        where T : unmanaged
    {
        var field = FieldFor(dataType);
        int found = Count(tensor, field);
        if (found != elementCount)
        {
            throw TensorDataError.WrongFieldCount(tensor, FieldName(field), found, elementCount);
        }

        var values = new T[found];
        switch (dataType)
        {
            case DataType.Float:
                tensor.FloatData.CopyTo((float[])(object)values, 0);
                break;
            case DataType.Double:
                tensor.DoubleData.CopyTo((double[])(object)values, 0);
                break;
            case DataType.Int64:
                tensor.Int64Data.CopyTo((long[])(object)values, 0);
                break;
            case DataType.Uint64:
                tensor.Uint64Data.CopyTo((ulong[])(object)values, 0);
                break;
            case DataType.Int32:
                tensor.Int32Data.CopyTo((int[])(object)values, 0);
                break;
            case DataType.Uint32:
                NarrowToUInt32(tensor, MemoryMarshal.Cast<T, uint>(values.AsSpan()));
                break;
            case DataType.Bool:
                ReadBooleans(tensor, MemoryMarshal.Cast<T, byte>(values.AsSpan()));
                break;
            case DataType.Int8 or DataType.Uint8:
                NarrowToBytes(tensor, MemoryMarshal.Cast<T, byte>(values.AsSpan()));
                break;
            default:
                // INT16, UINT16, FLOAT16 and BFLOAT16: 16 bits per int32_data entry.
                NarrowTo16Bits(tensor, MemoryMarshal.Cast<T, ushort>(values.AsSpan()));
                break;
        }

        return values;
    }

    /// <summary>The typed field that holds <paramref name="dataType"/>.</summary>
    public static int FieldFor(DataType dataType) => dataType switch
    {
        DataType.Float => TensorProto.FloatDataFieldNumber,
        DataType.Double => TensorProto.DoubleDataFieldNumber,
        DataType.Int64 => TensorProto.Int64DataFieldNumber,
        DataType.Uint32 or DataType.Uint64 => TensorProto.Uint64DataFieldNumber,
        DataType.String => TensorProto.StringDataFieldNumber,
        _ => TensorProto.Int32DataFieldNumber,
    };

    /// <summary>How many values <paramref name="tensor"/> holds in the typed field numbered <paramref name="field"/>.</summary>
    internal static int Count(TensorProto tensor, int field) => field switch
    {
        TensorProto.FloatDataFieldNumber => tensor.FloatData.Count,
        TensorProto.DoubleDataFieldNumber => tensor.DoubleData.Count,
        TensorProto.Int64DataFieldNumber => tensor.Int64Data.Count,
        TensorProto.Uint64DataFieldNumber => tensor.Uint64Data.Count,
        TensorProto.StringDataFieldNumber => tensor.StringData.Count,
        _ => tensor.Int32Data.Count,
    };

    private static string FieldName(int field) => TensorProto.Descriptor.FindFieldByNumber(field).Name;

    private static void NarrowToUInt32(TensorProto tensor, Span<uint> destination)
    {
        RepeatedField<ulong> source = tensor.Uint64Data;
        for (int i = 0; i < destination.Length; i++)
        {
            ulong value = source[i];
            if (value > uint.MaxValue)
            {
                throw TensorDataError.ValueOutOfRange(tensor, "uint64_data", i, value);
            }

            destination[i] = (uint)value;
        }
    }

    private static void ReadBooleans(TensorProto tensor, Span<byte> destination)
    {
        RepeatedField<int> source = tensor.Int32Data;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = source[i] != 0 ? (byte)1 : (byte)0;
        }
    }

    /// <summary>8-bit elements; an entry may hold the value signed (-128..127) or unsigned (0..255).</summary>
    private static void NarrowToBytes(TensorProto tensor, Span<byte> destination)
    {
        RepeatedField<int> source = tensor.Int32Data;
        for (int i = 0; i < destination.Length; i++)
        {
            int value = source[i];
            if (value is < sbyte.MinValue or > byte.MaxValue)
            {
                throw TensorDataError.ValueOutOfRange(tensor, "int32_data", i, value);
            }

            destination[i] = (byte)value;
        }
    }

    /// <summary>16-bit elements; an entry may hold the bits signed (-32768..32767) or unsigned (0..65535).</summary>
    private static void NarrowTo16Bits(TensorProto tensor, Span<ushort> destination)
    {
        RepeatedField<int> source = tensor.Int32Data;
        for (int i = 0; i < destination.Length; i++)
        {
            int value = source[i];
            if (value is < short.MinValue or > ushort.MaxValue)
            {
                throw TensorDataError.ValueOutOfRange(tensor, "int32_data", i, value);
            }

            destination[i] = (ushort)value;
        }
    }
}
