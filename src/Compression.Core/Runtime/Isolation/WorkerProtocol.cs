using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Runtime.Isolation;

/// <summary>
/// The messages between the compressor and its ONNX Runtime worker, over the worker's standard input and output:
/// a request (an operation byte and its fields) and its answer (a status byte, then the result or the failure), in
/// little-endian binary. Tensors travel as element type, shape and raw elements (strings one by one).
/// </summary>
internal static class WorkerProtocol
{
    /// <summary>What the worker writes first, so that the compressor knows it started and speaks this protocol.</summary>
    public const int Hello = 0x4F435731; // "OCW1"

    public const byte OpenBytes = 1;
    public const byte OpenPath = 2;
    public const byte Run = 3;
    public const byte Close = 4;

    /// <summary>Test hook: the worker kills itself with the signal that follows (a stand-in for a native crash).</summary>
    public const byte KillSelf = 9;

    public const byte Ok = 0;
    public const byte Failed = 1;

    public const byte FailureOnnxRuntime = 1;
    public const byte FailureArgument = 2;
    public const byte FailureNotSupported = 3;
    public const byte FailureFileNotFound = 4;
    public const byte FailureOther = 5;

    public static readonly Encoding Utf8 = new UTF8Encoding(false);

    public static void WriteOptions(BinaryWriter writer, OnnxSessionOptions options)
    {
        writer.Write(options.IntraOpThreads);
        writer.Write(options.InterOpThreads);
        writer.Write(options.ParallelExecution);
        writer.Write((int)options.OptimizationLevel);
        writer.Write(options.ConfigEntries.Count);
        foreach (KeyValuePair<string, string> entry in options.ConfigEntries)
        {
            writer.Write(entry.Key);
            writer.Write(entry.Value);
        }

        writer.Write(options.FreeDimensionOverrides.Count);
        foreach (KeyValuePair<string, long> entry in options.FreeDimensionOverrides)
        {
            writer.Write(entry.Key);
            writer.Write(entry.Value);
        }
    }

    public static OnnxSessionOptions ReadOptions(BinaryReader reader)
    {
        var options = new OnnxSessionOptions
        {
            IntraOpThreads = reader.ReadInt32(),
            InterOpThreads = reader.ReadInt32(),
            ParallelExecution = reader.ReadBoolean(),
            OptimizationLevel = (GraphOptimizationLevel)reader.ReadInt32(),
        };
        for (int i = reader.ReadInt32(); i > 0; i--)
        {
            string key = reader.ReadString();
            options.ConfigEntries[key] = reader.ReadString();
        }

        for (int i = reader.ReadInt32(); i > 0; i--)
        {
            string key = reader.ReadString();
            options.FreeDimensionOverrides[key] = reader.ReadInt64();
        }

        return options;
    }

    public static void WriteStrings(BinaryWriter writer, ReadOnlySpan<string> values)
    {
        writer.Write(values.Length);
        foreach (string value in values)
        {
            writer.Write(value);
        }
    }

    public static string[] ReadStrings(BinaryReader reader)
    {
        var values = new string[reader.ReadInt32()];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = reader.ReadString();
        }

        return values;
    }

    public static void WriteInfos(BinaryWriter writer, IReadOnlyList<OnnxValueInfo> infos)
    {
        writer.Write(infos.Count);
        foreach (OnnxValueInfo info in infos)
        {
            writer.Write(info.Name);
            writer.Write((int)info.Kind);
            writer.Write((int)info.ElementType);
            writer.Write(info.Dimensions.Count);
            for (int d = 0; d < info.Dimensions.Count; d++)
            {
                writer.Write(info.Dimensions[d]);
                string? symbol = d < info.SymbolicDimensions.Count ? info.SymbolicDimensions[d] : null;
                writer.Write(symbol is not null);
                if (symbol is not null)
                {
                    writer.Write(symbol);
                }
            }
        }
    }

    public static OnnxValueInfo[] ReadInfos(BinaryReader reader)
    {
        var infos = new OnnxValueInfo[reader.ReadInt32()];
        for (int i = 0; i < infos.Length; i++)
        {
            string name = reader.ReadString();
            var kind = (OnnxValueKind)reader.ReadInt32();
            var type = (TensorElementType)reader.ReadInt32();
            var dims = new long[reader.ReadInt32()];
            var symbols = new string?[dims.Length];
            for (int d = 0; d < dims.Length; d++)
            {
                dims[d] = reader.ReadInt64();
                symbols[d] = reader.ReadBoolean() ? reader.ReadString() : null;
            }

            infos[i] = new OnnxValueInfo(name, kind, type, dims, symbols);
        }

        return infos;
    }

    public static void WriteTensors(BinaryWriter writer, ReadOnlySpan<OnnxTensor> tensors)
    {
        writer.Write(tensors.Length);
        foreach (OnnxTensor tensor in tensors)
        {
            WriteTensor(writer, tensor);
        }
    }

    public static OnnxTensor[] ReadTensors(BinaryReader reader)
    {
        var tensors = new OnnxTensor[reader.ReadInt32()];
        for (int i = 0; i < tensors.Length; i++)
        {
            tensors[i] = ReadTensor(reader);
        }

        return tensors;
    }

    private static void WriteTensor(BinaryWriter writer, OnnxTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        writer.Write((int)tensor.ElementType);
        writer.Write(tensor.Shape.Length);
        foreach (long dim in tensor.Shape)
        {
            writer.Write(dim);
        }

        if (tensor is OnnxStringTensor strings)
        {
            foreach (string value in strings.Values)
            {
                // A null element reaches the worker as itself, so that ONNX Runtime's own check refuses it there.
                writer.Write(value is not null);
                if (value is not null)
                {
                    writer.Write(value);
                }
            }

            return;
        }

        using System.Buffers.MemoryHandle pin = tensor.Pin(out long bytes);
        unsafe
        {
            writer.Write(new ReadOnlySpan<byte>(pin.Pointer, checked((int)bytes)));
        }
    }

    private static OnnxTensor ReadTensor(BinaryReader reader)
    {
        var type = (TensorElementType)reader.ReadInt32();
        var shape = new long[reader.ReadInt32()];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = reader.ReadInt64();
            count = checked(count * shape[i]);
        }

        int n = checked((int)count);
        return type switch
        {
            TensorElementType.String => ReadStringTensor(reader, n, shape),
            TensorElementType.Float => Read<float>(reader, n, shape, type),
            TensorElementType.Double => Read<double>(reader, n, shape, type),
            TensorElementType.Float16 => Read<Half>(reader, n, shape, type),
            TensorElementType.BFloat16 => Read<ushort>(reader, n, shape, type),
            TensorElementType.Int8 => Read<sbyte>(reader, n, shape, type),
            TensorElementType.UInt8 => Read<byte>(reader, n, shape, type),
            TensorElementType.Int16 => Read<short>(reader, n, shape, type),
            TensorElementType.UInt16 => Read<ushort>(reader, n, shape, type),
            TensorElementType.Int32 => Read<int>(reader, n, shape, type),
            TensorElementType.UInt32 => Read<uint>(reader, n, shape, type),
            TensorElementType.Int64 => Read<long>(reader, n, shape, type),
            TensorElementType.UInt64 => Read<ulong>(reader, n, shape, type),
            TensorElementType.Bool => Read<bool>(reader, n, shape, type),
            _ => throw new InvalidDataException($"A tensor of {TensorElementTypes.Name(type)} elements cannot travel to or from the worker."),
        };
    }

    private static OnnxStringTensor ReadStringTensor(BinaryReader reader, int count, long[] shape)
    {
        var values = new string[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = reader.ReadBoolean() ? reader.ReadString() : null!;
        }

        return new OnnxStringTensor(values, shape);
    }

    private static OnnxTensor<T> Read<T>(BinaryReader reader, int count, long[] shape, TensorElementType type) where T : unmanaged
    {
        var values = new T[count];
        reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return new OnnxTensor<T>(values, shape, type);
    }
}
