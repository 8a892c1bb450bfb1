using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Evaluation;

/// <summary>The inputs of one run of a model, with what is known about the rows they hold.</summary>
/// <param name="Inputs">One tensor per model input, in the model's order.</param>
/// <param name="Rows">How many samples the run holds (the size of the first axis, or 1).</param>
/// <param name="Labels">The class index of each row, when the samples carry labels.</param>
/// <param name="ExpectedOutputs">The outputs the model should compute, in the model's order, when the samples carry them.</param>
public sealed record SampleBatch(IReadOnlyList<OnnxTensor> Inputs, int Rows, IReadOnlyList<long>? Labels = null, IReadOnlyList<OnnxTensor>? ExpectedOutputs = null);

/// <summary>
/// Samples for one model: synthesized from its input signature, or read from a folder in ONNX's test-data layout or as
/// NumPy files. Validation, calibration and search all read them the same way, one run (<see cref="SampleBatch"/>) at a time.
/// </summary>
public sealed class SampleSet
{
    /// <summary>How many rows a run of NumPy samples holds where the model leaves the batch size open.</summary>
    public const int RowsPerRun = 32;

    private SampleSet(string source, IReadOnlyList<ValidationInput> described, IReadOnlyList<SampleBatch> batches)
    {
        Source = source;
        Described = described;
        Batches = batches;
    }

    /// <summary><c>synthesized</c>, or the folder the samples came from.</summary>
    public string Source { get; }

    /// <summary>The inputs of the first run, described for the report.</summary>
    public IReadOnlyList<ValidationInput> Described { get; }

    /// <summary>The runs, in order.</summary>
    public IReadOnlyList<SampleBatch> Batches { get; }

    /// <summary>The number of samples (rows) over all runs.</summary>
    public int Samples => Batches.Sum(b => b.Rows);

    /// <summary>True when every row carries a label or every run expected outputs, so that accuracy can be measured.</summary>
    public bool HasLabels => Batches.Count > 0 && Batches.All(b => b.Labels is not null || b.ExpectedOutputs is not null);

    /// <summary>Synthesized inputs: <paramref name="count"/> runs from seeded generators (see <see cref="InputSynthesizer"/>).</summary>
    /// <exception cref="CompressionException">An input cannot be synthesized (OCB0103).</exception>
    public static SampleSet Synthesize(IReadOnlyList<OnnxValueInfo> inputs, int count, string modelPath)
    {
        IReadOnlyList<long[]> shapes = InputSynthesizer.ResolveShapes(inputs);
        var described = inputs.Select((input, i) => new ValidationInput(input.Name, TensorElementTypes.Name(input.ElementType), shapes[i], "synthesized")).ToList();
        var batches = new List<SampleBatch>();
        for (int sample = 0; sample < Math.Max(1, count); sample++)
        {
            try
            {
                batches.Add(new SampleBatch(InputSynthesizer.Create(inputs, shapes, sample), 1));
            }
            catch (NotSupportedException e)
            {
                throw new CompressionException(DiagnosticCodes.InvalidValidationData, modelPath,
                    $"Validation cannot synthesize inputs for this model: {e.Message}. Give samples " +
                    "(OnnxValidationData, --validation-data) or turn validation off (OnnxValidate=false, --no-validate).");
            }
        }

        return new SampleSet("synthesized", described, batches);
    }

    /// <summary>
    /// Reads the samples in <paramref name="directory"/> for a model with <paramref name="inputs"/>: NumPy files
    /// (<c>&lt;input&gt;.npy</c>, samples along the first axis, <c>labels.npy</c>), folders of TensorProto files
    /// (<c>*/input_K.pb</c>, <c>*/output_K.pb</c>: one run each), or TensorProto files in the folder itself (one run).
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="inputs">The model's inputs.</param>
    /// <param name="modelPath">The model, for messages.</param>
    /// <param name="setting">The setting that named the folder, for messages (ValidationData, CalibrationData).</param>
    /// <exception cref="CompressionException">The folder is missing, a file is unreadable, or the samples do not fit the model (OCB0103).</exception>
    public static SampleSet Load(string directory, IReadOnlyList<OnnxValueInfo> inputs, string modelPath, Setting setting)
    {
        if (!Directory.Exists(directory))
        {
            throw Invalid(modelPath, setting, $"The {setting.Name} folder '{directory}' does not exist.");
        }

        if (Directory.EnumerateFiles(directory, "*.npy").Any())
        {
            return LoadNumPy(directory, inputs, modelPath, setting);
        }

        string[] runs = Directory.GetDirectories(directory).Where(d => Directory.EnumerateFiles(d, "*.pb").Any()).Order(StringComparer.Ordinal).ToArray();
        if (runs.Length == 0 && Directory.EnumerateFiles(directory, "*.pb").Any())
        {
            runs = [directory];
        }

        if (runs.Length == 0)
        {
            throw Invalid(modelPath, setting,
                $"The {setting.Name} folder '{directory}' holds no samples: no <input>.npy files, no TensorProto files (*.pb), and no subfolders of them.");
        }

        var batches = new List<SampleBatch>();
        IReadOnlyList<ValidationInput>? described = null;
        foreach (string run in runs)
        {
            (SampleBatch batch, IReadOnlyList<ValidationInput> runDescribed) = LoadTensorFolder(run, inputs, modelPath, setting);
            batches.Add(batch);
            described ??= runDescribed;
        }

        return new SampleSet(directory, described!, batches);
    }

    private static (SampleBatch Batch, IReadOnlyList<ValidationInput> Described) LoadTensorFolder(string directory, IReadOnlyList<OnnxValueInfo> inputs, string modelPath, Setting setting)
    {
        var byName = new Dictionary<string, (TensorProto Tensor, string File)>(StringComparer.Ordinal);
        var outputs = new SortedDictionary<int, TensorProto>();
        foreach (string file in Directory.GetFiles(directory, "*.pb").Order(StringComparer.Ordinal))
        {
            TensorProto tensor;
            try
            {
                tensor = OnnxDataFile.LoadTensor(file);
            }
            catch (OnnxFormatException e)
            {
                throw Invalid(modelPath, setting, $"'{file}' is not a serialized ONNX TensorProto: {e.Message}");
            }

            string stem = Path.GetFileNameWithoutExtension(file);
            if (Index(stem, "output_") is int output)
            {
                outputs[output] = tensor;
                continue;
            }

            string name = tensor.Name;
            if (name.Length == 0 && Index(stem, "input_") is int index && index < inputs.Count)
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
                throw Invalid(modelPath, setting,
                    $"The {setting.Name} folder '{directory}' has no tensor for input '{input.Name}'. Add a TensorProto file named " +
                    $"after the input (its name field '{input.Name}'), or input_{i}.pb.");
            }

            try
            {
                tensors[i] = TensorConversion.ToOnnxTensor(found.Tensor);
            }
            catch (Exception e) when (e is OnnxFormatException or NotSupportedException)
            {
                throw Invalid(modelPath, setting, $"'{found.File}' cannot feed input '{input.Name}': {e.Message}");
            }

            described.Add(new ValidationInput(input.Name, TensorElementTypes.Name(tensors[i].ElementType), tensors[i].Shape.ToArray(), Path.GetFileName(found.File)));
        }

        IReadOnlyList<OnnxTensor>? expected = null;
        if (outputs.Count > 0)
        {
            try
            {
                expected = outputs.Values.Select(TensorConversion.ToOnnxTensor).ToList();
            }
            catch (Exception e) when (e is OnnxFormatException or NotSupportedException)
            {
                throw Invalid(modelPath, setting, $"an expected output in '{directory}' cannot be read: {e.Message}");
            }
        }

        int rows = tensors.Length > 0 && tensors[0].Shape.Length > 0 ? (int)Math.Min(tensors[0].Shape[0], int.MaxValue) : 1;
        return (new SampleBatch(tensors, Math.Max(1, rows), null, expected), described);
    }

    private static SampleSet LoadNumPy(string directory, IReadOnlyList<OnnxValueInfo> inputs, string modelPath, Setting setting)
    {
        var arrays = new OnnxTensor[inputs.Count];
        long samples = -1;
        for (int i = 0; i < inputs.Count; i++)
        {
            string file = Path.Combine(directory, inputs[i].Name + ".npy");
            if (!File.Exists(file))
            {
                throw Invalid(modelPath, setting,
                    $"The {setting.Name} folder '{directory}' has NumPy files but none for input '{inputs[i].Name}'. Add {inputs[i].Name}.npy, the samples stacked along the first axis.");
            }

            arrays[i] = ReadNumPy(file, modelPath, setting);
            if (arrays[i].Shape.Length == 0)
            {
                throw Invalid(modelPath, setting, $"'{file}' holds a scalar; stack the samples along the first axis.");
            }

            long count = arrays[i].Shape[0];
            if (samples >= 0 && count != samples)
            {
                throw Invalid(modelPath, setting, $"'{file}' holds {count} samples but {inputs[0].Name}.npy holds {samples}; every input needs one row per sample.");
            }

            samples = count;
        }

        long[]? labels = null;
        string labelFile = Path.Combine(directory, "labels.npy");
        if (File.Exists(labelFile))
        {
            OnnxTensor read = ReadNumPy(labelFile, modelPath, setting);
            labels = read switch
            {
                OnnxTensor<long> l when l.Shape.Length == 1 => l.ToArray(),
                OnnxTensor<int> l when l.Shape.Length == 1 => Array.ConvertAll(l.ToArray(), v => (long)v),
                _ => throw Invalid(modelPath, setting, $"'{labelFile}' must hold one int64 class index per sample (a 1-D array); it holds {read}."),
            };
            if (labels.Length != samples)
            {
                throw Invalid(modelPath, setting, $"'{labelFile}' holds {labels.Length} labels for {samples} samples.");
            }
        }

        // A model input of the arrays' rank takes runs of rows; one of a rank less takes one sample at a time.
        int rowsPerRun = RowsPerRun;
        bool squeeze = false;
        for (int i = 0; i < inputs.Count; i++)
        {
            int rank = inputs[i].Dimensions.Count;
            if (rank == arrays[i].Shape.Length - 1)
            {
                squeeze = true;
                rowsPerRun = 1;
            }
            else if (rank == arrays[i].Shape.Length && inputs[i].Dimensions[0] > 0)
            {
                rowsPerRun = (int)Math.Min(rowsPerRun, inputs[i].Dimensions[0]);
                if (samples % inputs[i].Dimensions[0] != 0)
                {
                    throw Invalid(modelPath, setting,
                        $"input '{inputs[i].Name}' takes exactly {inputs[i].Dimensions[0]} rows a run, but the folder holds {samples} samples, not a multiple of it.");
                }
            }
            else if (rank != arrays[i].Shape.Length)
            {
                throw Invalid(modelPath, setting,
                    $"{inputs[i].Name}.npy has shape {OnnxTensor.FormatShape(arrays[i].Shape)}, which does not fit input '{inputs[i].Name}' of rank {rank} " +
                    "with the samples along the first axis.");
            }
        }

        var batches = new List<SampleBatch>();
        for (long start = 0; start < samples; start += rowsPerRun)
        {
            int rows = (int)Math.Min(rowsPerRun, samples - start);
            var tensors = new OnnxTensor[inputs.Count];
            for (int i = 0; i < inputs.Count; i++)
            {
                tensors[i] = Rows(arrays[i], start, rows, squeeze && inputs[i].Dimensions.Count == arrays[i].Shape.Length - 1);
            }

            batches.Add(new SampleBatch(tensors, rows, labels is null ? null : labels.AsSpan((int)start, rows).ToArray()));
        }

        if (batches.Count == 0)
        {
            throw Invalid(modelPath, setting, $"The {setting.Name} folder '{directory}' holds 0 samples.");
        }

        var described = inputs.Select((input, i) => new ValidationInput(input.Name, TensorElementTypes.Name(batches[0].Inputs[i].ElementType),
            batches[0].Inputs[i].Shape.ToArray(), input.Name + ".npy")).ToList();
        return new SampleSet(directory, described, batches);
    }

    private static OnnxTensor ReadNumPy(string file, string modelPath, Setting setting)
    {
        try
        {
            return NumPyFile.Read(file);
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException or OverflowException)
        {
            throw Invalid(modelPath, setting, $"'{file}' cannot be read as a NumPy array: {e.Message}.");
        }
    }

    /// <summary>Rows [start, start + rows) of <paramref name="array"/>, without the first axis when <paramref name="squeeze"/>.</summary>
    private static OnnxTensor Rows(OnnxTensor array, long start, int rows, bool squeeze)
    {
        long[] shape = array.Shape.ToArray();
        long rowSize = 1;
        for (int d = 1; d < shape.Length; d++)
        {
            rowSize *= shape[d];
        }

        long[] sliced = squeeze ? shape[1..] : [rows, .. shape[1..]];
        return array.Slice(start * rowSize, (int)(rows * rowSize), sliced);
    }

    private static int? Index(string stem, string prefix) =>
        stem.StartsWith(prefix, StringComparison.Ordinal)
        && int.TryParse(stem.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
            ? index
            : null;

    private static CompressionException Invalid(string modelPath, Setting setting, string message) =>
        new(DiagnosticCodes.InvalidValidationData, modelPath,
            message + $" Fix the folder given as {setting.PropertyName} ({setting.OptionName}), or leave it out" +
            (setting == EvaluationSettings.ValidationData ? " to validate on synthesized inputs." : "."));
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
