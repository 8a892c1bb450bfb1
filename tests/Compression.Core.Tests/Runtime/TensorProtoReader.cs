using Compression.Core.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Runtime;

/// <summary>
/// Turns a serialized ONNX <see cref="TensorProto"/> (the backend suite's input_K.pb / output_K.pb) into an
/// <see cref="OnnxTensor"/>. Written here, from the ONNX spec, so OnnxSession is checked against data that did not
/// pass through any other code of this repository: raw_data holds little-endian elements; otherwise the typed
/// field the spec names for each type does (int32_data also carries int8/int16/uint8/uint16/bool and the bits of
/// float16/bfloat16; uint64_data carries uint32).
/// </summary>
internal static class TensorProtoReader
{
    public static TensorProto ReadFile(string path) => TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));

    public static OnnxTensor ToOnnxTensor(TensorProto proto)
    {
        if (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new NotSupportedException($"Tensor '{proto.Name}' keeps its data in an external file.");
        }

        long[] shape = proto.Dims.ToArray();
        long count = 1;
        foreach (long d in shape)
        {
            count = checked(count * d);
        }

        int n = checked((int)count);
        var type = (TensorElementType)proto.DataType;
        return type switch
        {
            TensorElementType.Float => new OnnxTensor<float>(Numbers(proto, n, p => p.FloatData.ToArray()), shape),
            TensorElementType.Double => new OnnxTensor<double>(Numbers(proto, n, p => p.DoubleData.ToArray()), shape),
            TensorElementType.Int32 => new OnnxTensor<int>(Numbers(proto, n, p => p.Int32Data.ToArray()), shape),
            TensorElementType.Int64 => new OnnxTensor<long>(Numbers(proto, n, p => p.Int64Data.ToArray()), shape),
            TensorElementType.Int8 => new OnnxTensor<sbyte>(Numbers(proto, n, p => p.Int32Data.Select(v => checked((sbyte)v)).ToArray()), shape),
            TensorElementType.UInt8 => new OnnxTensor<byte>(Numbers(proto, n, p => p.Int32Data.Select(v => checked((byte)v)).ToArray()), shape),
            TensorElementType.Int16 => new OnnxTensor<short>(Numbers(proto, n, p => p.Int32Data.Select(v => checked((short)v)).ToArray()), shape),
            TensorElementType.UInt16 => new OnnxTensor<ushort>(Numbers(proto, n, p => p.Int32Data.Select(v => checked((ushort)v)).ToArray()), shape),
            TensorElementType.UInt32 => new OnnxTensor<uint>(Numbers(proto, n, p => p.Uint64Data.Select(v => checked((uint)v)).ToArray()), shape),
            TensorElementType.UInt64 => new OnnxTensor<ulong>(Numbers(proto, n, p => p.Uint64Data.ToArray()), shape),
            TensorElementType.Bool => new OnnxTensor<bool>(Booleans(proto, n), shape),
            TensorElementType.Float16 => new OnnxTensor<Half>(
                Numbers(proto, n, p => p.Int32Data.Select(v => BitConverter.UInt16BitsToHalf(checked((ushort)v))).ToArray()), shape),
            TensorElementType.BFloat16 => new OnnxTensor<ushort>(
                Numbers(proto, n, p => p.Int32Data.Select(v => checked((ushort)v)).ToArray()), shape, TensorElementType.BFloat16),
            TensorElementType.String => new OnnxStringTensor(Strings(proto, n), shape),
            _ => throw new NotSupportedException($"Tensor '{proto.Name}' has element type {proto.DataType}, which this reader does not convert."),
        };
    }

    private static T[] Numbers<T>(TensorProto proto, int count, Func<TensorProto, T[]> typed) where T : unmanaged
    {
        T[] values;
        if (proto.HasRawData)
        {
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("raw_data is little-endian.");
            }

            values = MemoryMarshal.Cast<byte, T>(proto.RawData.Span).ToArray();
        }
        else
        {
            values = typed(proto);
        }

        return values.Length == count
            ? values
            : throw new InvalidDataException($"Tensor '{proto.Name}' has {values.Length} elements for shape [{string.Join(", ", proto.Dims)}].");
    }

    private static bool[] Booleans(TensorProto proto, int count)
    {
        bool[] values = proto.HasRawData
            ? proto.RawData.Span.ToArray().Select(b => b != 0).ToArray()
            : proto.Int32Data.Select(v => v != 0).ToArray();
        return values.Length == count
            ? values
            : throw new InvalidDataException($"Tensor '{proto.Name}' has {values.Length} elements for shape [{string.Join(", ", proto.Dims)}].");
    }

    private static string[] Strings(TensorProto proto, int count)
    {
        string[] values = proto.StringData.Select(s => Encoding.UTF8.GetString(s.Span)).ToArray();
        return values.Length == count
            ? values
            : throw new InvalidDataException($"Tensor '{proto.Name}' has {values.Length} strings for shape [{string.Join(", ", proto.Dims)}].");
    }
}
