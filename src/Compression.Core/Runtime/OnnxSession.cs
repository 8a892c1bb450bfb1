using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Compression.Core.Runtime;

/// <summary>
/// A model loaded into ONNX Runtime (Microsoft.ML.OnnxRuntime's <see cref="InferenceSession"/>) for the compressor's
/// own runs: validation, calibration and evaluation. It takes and returns <see cref="OnnxTensor"/> values in managed
/// memory: inputs are handed to ONNX Runtime in place (pinned, not copied) and outputs are copied out, so that the
/// values outlive the run and need no disposal.
/// </summary>
public sealed class OnnxSession : IModelSession
{
    // An empty tensor still needs a valid address; ONNX Runtime never reads it.
    private static readonly byte[] EmptyData = GC.AllocateArray<byte>(16, pinned: true);

    private readonly InferenceSession session;
    private readonly Dictionary<string, int> inputIndex;
    private readonly Dictionary<string, int> outputIndex;

    // InferenceSession frees its native session on Dispose and a Run after that, or during it on another thread, reads
    // freed memory. Runs hold a lease; Dispose frees the session once the last run has finished.
    private readonly object gate = new();
    private int activeRuns;
    private bool disposeRequested;
    private bool disposed;

    /// <summary>Loads the model at <paramref name="modelPath"/> (external data is read beside it).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxRuntimeNotFoundException">ONNX Runtime's native library was not found.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime could not load the model.</exception>
    public OnnxSession(string modelPath, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        string fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"The ONNX model '{fullPath}' does not exist.", fullPath);
        }

        OnnxRuntimeLibrary.EnsureLoaded();
        using SessionOptions native = CreateOptions(options);
        session = new InferenceSession(fullPath, native);
        ModelPath = fullPath;
        (Inputs, inputIndex) = Describe(session.InputNames, session.InputMetadata);
        (Outputs, outputIndex) = Describe(session.OutputNames, session.OutputMetadata);
    }

    /// <summary>Loads a model from its bytes. External data, if any, is looked up relative to the current folder.</summary>
    /// <exception cref="ArgumentException">The model is empty.</exception>
    /// <exception cref="OnnxRuntimeNotFoundException">ONNX Runtime's native library was not found.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime could not load the model.</exception>
    public OnnxSession(ReadOnlyMemory<byte> model, OnnxSessionOptions? options = null)
    {
        if (model.IsEmpty)
        {
            // ONNX Runtime's managed API takes the address of the first byte: an empty array takes the process down.
            throw new ArgumentException("The model is empty (0 bytes).", nameof(model));
        }

        OnnxRuntimeLibrary.EnsureLoaded();
        using SessionOptions native = CreateOptions(options);
        byte[] bytes = MemoryMarshal.TryGetArray(model, out ArraySegment<byte> segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : model.ToArray();
        session = new InferenceSession(bytes, native);
        (Inputs, inputIndex) = Describe(session.InputNames, session.InputMetadata);
        (Outputs, outputIndex) = Describe(session.OutputNames, session.OutputMetadata);
    }

    /// <summary>The full path of the model file, or null when the session was created from bytes.</summary>
    public string? ModelPath { get; }

    /// <summary>The model's inputs, in the model's order (initializers that may be overridden are not listed).</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs { get; }

    /// <summary>The model's outputs, in the model's order.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>Runs the model.</summary>
    /// <param name="names">The input names, one per tensor.</param>
    /// <param name="inputs">The input tensors; their memory is read in place, not copied.</param>
    /// <param name="outputs">The outputs to compute, by name; empty for all outputs in the model's order.</param>
    /// <returns>The output tensors, in the order of <paramref name="outputs"/>, in managed memory of their own.</returns>
    /// <exception cref="ArgumentException">An input or output name is not the model's, or a string input has a null
    /// element or one containing U+0000 (ONNX Runtime's C API takes NUL-terminated strings).</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime rejected the inputs or failed while running.</exception>
    /// <exception cref="NotSupportedException">An output is not a tensor, or has an element type without a .NET type.</exception>
    public OnnxTensor[] Run(ReadOnlySpan<string> names, ReadOnlySpan<OnnxTensor> inputs, ReadOnlySpan<string> outputs)
    {
        if (names.Length != inputs.Length)
        {
            throw new ArgumentException($"{names.Length} input names were given for {inputs.Length} tensors.", nameof(names));
        }

        var inputNames = new string[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            inputNames[i] = Inputs[Find(inputIndex, names[i], "input", Inputs)].Name;
        }

        var outputNames = new string[outputs.IsEmpty ? Outputs.Count : outputs.Length];
        for (int i = 0; i < outputNames.Length; i++)
        {
            outputNames[i] = outputs.IsEmpty ? Outputs[i].Name : Outputs[Find(outputIndex, outputs[i], "output", Outputs)].Name;
        }

        var values = new OrtValue[inputs.Length];
        var pins = new MemoryHandle[inputs.Length];
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                values[i] = CreateValue(inputs[i] ?? throw new ArgumentNullException(nameof(inputs), $"Input '{inputNames[i]}' is null."), inputNames[i], out pins[i]);
            }

            Acquire();
            try
            {
                using var runOptions = new RunOptions();
                using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, inputNames, values, outputNames);
                var tensors = new OnnxTensor[outputNames.Length];
                int n = 0;
                foreach (OrtValue result in results)
                {
                    tensors[n] = ReadValue(result, outputNames[n]);
                    n++;
                }

                return tensors;
            }
            finally
            {
                Release();
            }
        }
        finally
        {
            foreach (OrtValue? value in values)
            {
                value?.Dispose();
            }

            foreach (MemoryHandle pin in pins)
            {
                pin.Dispose();
            }
        }
    }

    /// <summary>Runs the model on named inputs and returns every output by name.</summary>
    public IReadOnlyDictionary<string, OnnxTensor> Run(IReadOnlyDictionary<string, OnnxTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var names = new string[inputs.Count];
        var tensors = new OnnxTensor[inputs.Count];
        int n = 0;
        foreach (KeyValuePair<string, OnnxTensor> input in inputs)
        {
            names[n] = input.Key;
            tensors[n++] = input.Value;
        }

        OnnxTensor[] results = Run(names, tensors, ReadOnlySpan<string>.Empty);
        var byName = new Dictionary<string, OnnxTensor>(results.Length, StringComparer.Ordinal);
        for (int i = 0; i < results.Length; i++)
        {
            byName[Outputs[i].Name] = results[i];
        }

        return byName;
    }

    /// <summary>Frees the native session, at once or, while runs on other threads are under way, when the last one ends.
    /// Runs that start after this throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            disposeRequested = true;
            if (activeRuns > 0 || disposed)
            {
                return;
            }

            disposed = true;
        }

        session.Dispose();
    }

    private void Acquire()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposeRequested, this);
            activeRuns++;
        }
    }

    private void Release()
    {
        lock (gate)
        {
            if (--activeRuns > 0 || !disposeRequested || disposed)
            {
                return;
            }

            disposed = true;
        }

        session.Dispose();
    }

    private static SessionOptions CreateOptions(OnnxSessionOptions? options)
    {
        options ??= new OnnxSessionOptions();
        var native = new SessionOptions();
        try
        {
            if (options.IntraOpThreads > 0)
            {
                native.IntraOpNumThreads = options.IntraOpThreads;
            }

            if (options.InterOpThreads > 0)
            {
                native.InterOpNumThreads = options.InterOpThreads;
            }

            native.ExecutionMode = options.ParallelExecution ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL;
            native.GraphOptimizationLevel = options.OptimizationLevel;
            if (!string.IsNullOrEmpty(options.OptimizedModelPath))
            {
                native.OptimizedModelFilePath = options.OptimizedModelPath;
            }

            foreach (KeyValuePair<string, string> entry in options.ConfigEntries)
            {
                native.AddSessionConfigEntry(entry.Key, entry.Value);
            }

            foreach (KeyValuePair<string, long> entry in options.FreeDimensionOverrides)
            {
                native.AddFreeDimensionOverrideByName(entry.Key, entry.Value);
            }

            return native;
        }
        catch
        {
            native.Dispose();
            throw;
        }
    }

    private static (IReadOnlyList<OnnxValueInfo> Infos, Dictionary<string, int> Index) Describe(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata)
    {
        var infos = new OnnxValueInfo[names.Count];
        var index = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
        for (int i = 0; i < infos.Length; i++)
        {
            NodeMetadata node = metadata[names[i]];
            var kind = (OnnxValueKind)(int)node.OnnxValueType;
            if (kind != OnnxValueKind.Tensor)
            {
                infos[i] = new OnnxValueInfo(names[i], kind, TensorElementType.Undefined, [], []);
            }
            else
            {
                // NodeMetadata gives dimensions as int; -1 (or any negative size) means the model does not fix it.
                var dimensions = new long[node.Dimensions.Length];
                var symbols = new string?[dimensions.Length];
                for (int d = 0; d < dimensions.Length; d++)
                {
                    dimensions[d] = node.Dimensions[d] < 0 ? -1 : node.Dimensions[d];
                    string? symbol = d < node.SymbolicDimensions.Length ? node.SymbolicDimensions[d] : null;
                    symbols[d] = string.IsNullOrEmpty(symbol) ? null : symbol;
                }

                infos[i] = new OnnxValueInfo(names[i], kind, (TensorElementType)(int)node.ElementDataType, dimensions, symbols);
            }

            index[names[i]] = i;
        }

        return (infos, index);
    }

    private static int Find(Dictionary<string, int> index, string name, string kind, IReadOnlyList<OnnxValueInfo> infos)
    {
        if (name is not null && index.TryGetValue(name, out int position))
        {
            return position;
        }

        var known = new string[infos.Count];
        for (int i = 0; i < known.Length; i++)
        {
            known[i] = "'" + infos[i].Name + "'";
        }

        throw new ArgumentException($"The model has no {kind} named '{name}'. Its {kind}s are {string.Join(", ", known)}.", kind == "input" ? "names" : "outputs");
    }

    private static OrtValue CreateValue(OnnxTensor tensor, string name, out MemoryHandle pin)
    {
        long[] shape = tensor.Shape.ToArray();
        if (tensor is OnnxStringTensor strings)
        {
            pin = default;
            CheckStrings(strings.Values, name);
            OrtValue value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            try
            {
                for (int i = 0; i < strings.Values.Count; i++)
                {
                    value.StringTensorSetElementAt(strings.Values[i].AsSpan(), i);
                }
            }
            catch
            {
                value.Dispose();
                throw;
            }

            return value;
        }

        IntPtr data = Pin(tensor, out pin, out long bytes);
        try
        {
            return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (OrtElementType)(int)tensor.ElementType, shape, data, bytes);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    private static unsafe IntPtr Pin(OnnxTensor tensor, out MemoryHandle pin, out long bytes)
    {
        pin = tensor.Pin(out bytes);
        IntPtr pointer = (IntPtr)pin.Pointer;
        return pointer == IntPtr.Zero ? Marshal.UnsafeAddrOfPinnedArrayElement(EmptyData, 0) : pointer;
    }

    /// <summary>
    /// ONNX Runtime keeps strings NUL-terminated: an element holding U+0000 would be cut short there without a word, and a
    /// null element has no value at all. Both are refused instead.
    /// </summary>
    private static void CheckStrings(IReadOnlyList<string> values, string name)
    {
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] is null)
            {
                throw new ArgumentException($"String {i} of input '{name}' is null; string tensors need a value in every element (use \"\" for none).", "inputs");
            }

            if (values[i].Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"String {i} of input '{name}' contains a NUL character (U+0000). ONNX Runtime keeps strings NUL-terminated, so it would be cut short there.",
                    "inputs");
            }
        }
    }

    private static OnnxTensor ReadValue(OrtValue value, string name)
    {
        if (!value.IsTensor)
        {
            throw new NotSupportedException($"Output '{name}' is a {(OnnxValueKind)(int)value.OnnxType}; the compressor reads tensor outputs only.");
        }

        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        var type = (TensorElementType)(int)info.ElementDataType;
        long[] shape = info.Shape;
        if (type == TensorElementType.String)
        {
            return new OnnxStringTensor(value.GetStringTensorAsArray(), shape);
        }

        ReadOnlySpan<byte> raw = info.ElementCount == 0 ? default : value.GetTensorMutableRawData();
        return type switch
        {
            TensorElementType.Float => Copy<float>(raw, shape, type),
            TensorElementType.Double => Copy<double>(raw, shape, type),
            TensorElementType.Float16 => Copy<Half>(raw, shape, type),
            TensorElementType.BFloat16 => Copy<ushort>(raw, shape, type),
            TensorElementType.Int8 => Copy<sbyte>(raw, shape, type),
            TensorElementType.UInt8 => Copy<byte>(raw, shape, type),
            TensorElementType.Int16 => Copy<short>(raw, shape, type),
            TensorElementType.UInt16 => Copy<ushort>(raw, shape, type),
            TensorElementType.Int32 => Copy<int>(raw, shape, type),
            TensorElementType.UInt32 => Copy<uint>(raw, shape, type),
            TensorElementType.Int64 => Copy<long>(raw, shape, type),
            TensorElementType.UInt64 => Copy<ulong>(raw, shape, type),
            TensorElementType.Bool => Copy<bool>(raw, shape, type),
            _ => throw new NotSupportedException($"Output '{name}' has {TensorElementTypes.Name(type)} elements, which the compressor does not read."),
        };
    }

    private static OnnxTensor<T> Copy<T>(ReadOnlySpan<byte> raw, long[] shape, TensorElementType type) where T : unmanaged =>
        new(MemoryMarshal.Cast<byte, T>(raw).ToArray(), shape, type);
}
