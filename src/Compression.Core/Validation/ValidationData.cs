using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Validation;

/// <summary>
/// Validation inputs the user gives: a folder of serialized TensorProto files (<c>*.pb</c>), as the ONNX backend tests
/// lay them out. A file feeds the input its tensor is named after, or, for unnamed tensors, <c>input_K.pb</c> feeds
/// the K-th input.
/// </summary>
public static class ValidationData
{
    /// <summary>Reads one input set for <paramref name="inputs"/> from <paramref name="directory"/>.</summary>
    /// <exception cref="CompressionException">The folder is missing, a file is unreadable, or an input has no file (OCB0103).</exception>
    public static (IReadOnlyList<ValidationInput> Described, OnnxTensor[] Tensors) Load(string directory, IReadOnlyList<OnnxValueInfo> inputs, string modelPath)
    {
        if (!Directory.Exists(directory))
        {
            throw Invalid(modelPath, $"The validation data folder '{directory}' does not exist.");
        }

        var byName = new Dictionary<string, (TensorProto Tensor, string File)>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(directory, "*.pb").Order(StringComparer.Ordinal))
        {
            TensorProto tensor;
            try
            {
                tensor = OnnxDataFile.LoadTensor(file);
            }
            catch (OnnxFormatException e)
            {
                throw Invalid(modelPath, $"'{file}' is not a serialized ONNX TensorProto: {e.Message}");
            }

            string name = tensor.Name;
            string stem = Path.GetFileNameWithoutExtension(file);
            if (name.Length == 0 && stem.StartsWith("input_", StringComparison.Ordinal)
                && int.TryParse(stem.AsSpan(6), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
                && index < inputs.Count)
            {
                name = inputs[index].Name;
            }

            byName.TryAdd(name.Length > 0 ? name : stem, (tensor, file));
        }

        var described = new List<ValidationInput>(inputs.Count);
        var tensors = new OnnxTensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            OnnxValueInfo input = inputs[i];
            if (!byName.TryGetValue(input.Name, out (TensorProto Tensor, string File) found))
            {
                throw Invalid(modelPath,
                    $"The validation data folder '{directory}' has no tensor for input '{input.Name}'. Add a TensorProto file named " +
                    $"after the input (its name field '{input.Name}'), or input_{i}.pb.");
            }

            try
            {
                tensors[i] = TensorConversion.ToOnnxTensor(found.Tensor);
            }
            catch (Exception e) when (e is OnnxFormatException or NotSupportedException)
            {
                throw Invalid(modelPath, $"'{found.File}' cannot feed input '{input.Name}': {e.Message}");
            }

            described.Add(new ValidationInput(input.Name, TensorElementTypes.Name(tensors[i].ElementType), tensors[i].Shape.ToArray(), Path.GetFileName(found.File)));
        }

        return (described, tensors);
    }

    private static CompressionException Invalid(string modelPath, string message) =>
        new(DiagnosticCodes.InvalidValidationData, modelPath, message + " Fix the folder given as OnnxValidationData (--validation-data), or leave it out to validate on synthesized inputs.");
}

/// <summary>Turns ONNX tensors (TensorProto) into tensors ONNX Runtime takes.</summary>
public static class TensorConversion
{
    /// <summary>Copies <paramref name="tensor"/>'s elements into an <see cref="OnnxTensor"/> of the same type and shape.</summary>
    /// <exception cref="NotSupportedException">The element type has no runtime tensor type.</exception>
    public static OnnxTensor ToOnnxTensor(TensorProto tensor)
    {
        long[] shape = [.. tensor.Dims];
        return (DataType)tensor.DataType switch
        {
            DataType.Float => new OnnxTensor<float>(tensor.ToArray<float>(), shape),
            DataType.Double => new OnnxTensor<double>(tensor.ToArray<double>(), shape),
            DataType.Float16 => new OnnxTensor<Half>(tensor.ToArray<Half>(), shape),
            DataType.Bfloat16 => new OnnxTensor<ushort>(Bits(tensor.ToArray<BFloat16>()), shape, TensorElementType.BFloat16),
            DataType.Int8 => new OnnxTensor<sbyte>(tensor.ToArray<sbyte>(), shape),
            DataType.Uint8 => new OnnxTensor<byte>(tensor.ToArray<byte>(), shape),
            DataType.Int16 => new OnnxTensor<short>(tensor.ToArray<short>(), shape),
            DataType.Uint16 => new OnnxTensor<ushort>(tensor.ToArray<ushort>(), shape),
            DataType.Int32 => new OnnxTensor<int>(tensor.ToArray<int>(), shape),
            DataType.Uint32 => new OnnxTensor<uint>(tensor.ToArray<uint>(), shape),
            DataType.Int64 => new OnnxTensor<long>(tensor.ToArray<long>(), shape),
            DataType.Uint64 => new OnnxTensor<ulong>(tensor.ToArray<ulong>(), shape),
            DataType.Bool => new OnnxTensor<bool>(tensor.ToArray<bool>(), shape),
            DataType.String => new OnnxStringTensor(tensor.ToStrings(), shape),
            _ => throw new NotSupportedException($"tensors of element type {(DataType)tensor.DataType} cannot be passed to ONNX Runtime"),
        };
    }

    private static ushort[] Bits(BFloat16[] values)
    {
        var bits = new ushort[values.Length];
        for (int i = 0; i < bits.Length; i++)
        {
            bits[i] = values[i].Bits;
        }

        return bits;
    }
}
