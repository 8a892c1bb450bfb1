using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Compression.Runtime.Native;

namespace Compression.Runtime;

/// <summary>
/// An ONNX model loaded into ONNX Runtime, ready to run. Create it once and call <see cref="Run(ReadOnlySpan{string}, ReadOnlySpan{OnnxTensor}, ReadOnlySpan{string})"/>
/// as often as needed, from any thread. Dispose it to free the native session.
/// </summary>
public sealed unsafe class OnnxSession : IDisposable
{
    private readonly OrtApi api;
    private readonly SessionHandle session;
    private readonly Dictionary<string, int> inputIndex;
    private readonly Dictionary<string, int> outputIndex;

    /// <summary>Loads the model at <paramref name="modelPath"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime could not load the model.</exception>
    public OnnxSession(string modelPath, OnnxSessionOptions? options = null)
        : this(ExistingFile(modelPath), options, FromFile(ExistingFile(modelPath)))
    {
    }

    /// <summary>Loads a model from its bytes. External data, if any, is looked up relative to the current folder.</summary>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime could not load the model.</exception>
    public OnnxSession(ReadOnlyMemory<byte> model, OnnxSessionOptions? options = null)
        : this(null, options, FromBytes(model))
    {
    }

    private OnnxSession(string? modelPath, OnnxSessionOptions? options, SessionFactory factory)
    {
        api = OnnxRuntimeLibrary.Api;
        ModelPath = modelPath;
        session = new SessionHandle(api, CreateSession(options, factory));
        try
        {
            (Inputs, session.InputNames, inputIndex) = ReadValueInfos(isInput: true);
            (Outputs, session.OutputNames, outputIndex) = ReadValueInfos(isInput: false);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private delegate IntPtr SessionFactory(OrtApi api, IntPtr env, IntPtr options, IntPtr* result);

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
    /// <returns>The output tensors, in the order of <paramref name="outputs"/>, in memory of their own.</returns>
    /// <exception cref="ArgumentException">An input or output name is not the model's, or a string input has a null
    /// element or one containing U+0000 (ONNX Runtime's C API takes NUL-terminated strings).</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime rejected the inputs or failed while running.</exception>
    public OnnxTensor[] Run(ReadOnlySpan<string> names, ReadOnlySpan<OnnxTensor> inputs, ReadOnlySpan<string> outputs)
    {
        ObjectDisposedException.ThrowIf(session.IsClosed, this);
        if (names.Length != inputs.Length)
        {
            throw new ArgumentException($"{names.Length} input names were given for {inputs.Length} tensors.", nameof(names));
        }

        int outputCount = outputs.IsEmpty ? Outputs.Count : outputs.Length;
        IntPtr* inputNamePtrs = stackalloc IntPtr[Math.Max(1, names.Length)];
        IntPtr* outputNamePtrs = stackalloc IntPtr[Math.Max(1, outputCount)];
        for (int i = 0; i < names.Length; i++)
        {
            inputNamePtrs[i] = session.InputNames!.Pointers[Find(inputIndex, names[i], "input", Inputs)];
        }

        for (int i = 0; i < outputCount; i++)
        {
            outputNamePtrs[i] = outputs.IsEmpty ? session.OutputNames!.Pointers[i] : session.OutputNames!.Pointers[Find(outputIndex, outputs[i], "output", Outputs)];
        }

        var values = new IntPtr[inputs.Length];
        var pins = new MemoryHandle[inputs.Length];
        var results = new IntPtr[outputCount];
        bool sessionHeld = false;
        try
        {
            // Holds the native session (and the name strings) alive even if another thread disposes this object now.
            session.DangerousAddRef(ref sessionHeld);
            for (int i = 0; i < inputs.Length; i++)
            {
                values[i] = CreateValue(inputs[i] ?? throw new ArgumentNullException(nameof(inputs), $"Input '{names[i]}' is null."), names[i], out pins[i]);
            }

            fixed (IntPtr* valuePtrs = values)
            fixed (IntPtr* resultPtrs = results)
            {
                api.Check(api.Run(session.DangerousGetHandle(), IntPtr.Zero, inputNamePtrs, valuePtrs, (nuint)inputs.Length, outputNamePtrs, (nuint)outputCount, resultPtrs));
            }

            var tensors = new OnnxTensor[outputCount];
            for (int i = 0; i < outputCount; i++)
            {
                string name = outputs.IsEmpty ? Outputs[i].Name : outputs[i];
                tensors[i] = ReadValue(results[i], name);
            }

            return tensors;
        }
        finally
        {
            if (sessionHeld)
            {
                session.DangerousRelease();
            }

            foreach (IntPtr value in values)
            {
                if (value != IntPtr.Zero)
                {
                    api.ReleaseValue(value);
                }
            }

            foreach (MemoryHandle pin in pins)
            {
                pin.Dispose();
            }

            foreach (IntPtr result in results)
            {
                if (result != IntPtr.Zero)
                {
                    api.ReleaseValue(result);
                }
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

    /// <summary>Frees the native session once no run on another thread is using it.</summary>
    public void Dispose() => session.Dispose();

    private static string ExistingFile(string modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        string fullPath = Path.GetFullPath(modelPath);
        return File.Exists(fullPath) ? fullPath : throw new FileNotFoundException($"The ONNX model '{fullPath}' does not exist.", fullPath);
    }

    private static SessionFactory FromFile(string fullPath) => (api, env, nativeOptions, result) =>
    {
        if (OperatingSystem.IsWindows())
        {
            fixed (char* path = fullPath + "\0")
            {
                return api.CreateSession(env, path, nativeOptions, result);
            }
        }

        fixed (byte* path = Encoding.UTF8.GetBytes(fullPath + "\0"))
        {
            return api.CreateSession(env, path, nativeOptions, result);
        }
    };

    private static SessionFactory FromBytes(ReadOnlyMemory<byte> model) => (api, env, nativeOptions, result) =>
    {
        fixed (byte* data = model.Span)
        {
            return api.CreateSessionFromArray(env, data, (nuint)model.Length, nativeOptions, result);
        }
    };

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

    private IntPtr CreateSession(OnnxSessionOptions? options, SessionFactory factory)
    {
        options ??= new OnnxSessionOptions();
        IntPtr nativeOptions;
        api.Check(api.CreateSessionOptions(&nativeOptions));
        try
        {
            if (options.IntraOpThreads > 0)
            {
                api.Check(api.SetIntraOpNumThreads(nativeOptions, options.IntraOpThreads));
            }

            if (options.InterOpThreads > 0)
            {
                api.Check(api.SetInterOpNumThreads(nativeOptions, options.InterOpThreads));
            }

            api.Check(api.SetSessionExecutionMode(nativeOptions, options.ParallelExecution ? 1 : 0));
            api.Check(api.SetSessionGraphOptimizationLevel(nativeOptions, (int)options.OptimizationLevel));
            foreach (KeyValuePair<string, string> entry in options.ConfigEntries)
            {
                fixed (byte* key = Encoding.UTF8.GetBytes(entry.Key + "\0"))
                fixed (byte* value = Encoding.UTF8.GetBytes(entry.Value + "\0"))
                {
                    api.Check(api.AddSessionConfigEntry(nativeOptions, key, value));
                }
            }

            foreach (KeyValuePair<string, long> entry in options.FreeDimensionOverrides)
            {
                fixed (byte* name = Encoding.UTF8.GetBytes(entry.Key + "\0"))
                {
                    api.Check(api.AddFreeDimensionOverrideByName(nativeOptions, name, entry.Value));
                }
            }

            IntPtr created;
            api.Check(factory(api, OrtEnvironment.Env, nativeOptions, &created));
            return created;
        }
        finally
        {
            api.ReleaseSessionOptions(nativeOptions);
        }
    }

    private (IReadOnlyList<OnnxValueInfo> Infos, Utf8Strings Names, Dictionary<string, int> Index) ReadValueInfos(bool isInput)
    {
        nuint count;
        api.Check(isInput ? api.SessionGetInputCount(session.DangerousGetHandle(), &count) : api.SessionGetOutputCount(session.DangerousGetHandle(), &count));
        var infos = new OnnxValueInfo[(int)count];
        var names = new string[infos.Length];
        var index = new Dictionary<string, int>(infos.Length, StringComparer.Ordinal);
        IntPtr allocator = OrtEnvironment.DefaultAllocator;
        for (int i = 0; i < infos.Length; i++)
        {
            IntPtr namePtr;
            api.Check(isInput
                ? api.SessionGetInputName(session.DangerousGetHandle(), (nuint)i, allocator, &namePtr)
                : api.SessionGetOutputName(session.DangerousGetHandle(), (nuint)i, allocator, &namePtr));
            names[i] = Marshal.PtrToStringUTF8(namePtr) ?? string.Empty;
            api.Check(api.AllocatorFree(allocator, (void*)namePtr));

            IntPtr typeInfo;
            api.Check(isInput
                ? api.SessionGetInputTypeInfo(session.DangerousGetHandle(), (nuint)i, &typeInfo)
                : api.SessionGetOutputTypeInfo(session.DangerousGetHandle(), (nuint)i, &typeInfo));
            try
            {
                infos[i] = DescribeType(names[i], typeInfo);
            }
            finally
            {
                api.ReleaseTypeInfo(typeInfo);
            }

            index[names[i]] = i;
        }

        return (infos, new Utf8Strings(names), index);
    }

    private OnnxValueInfo DescribeType(string name, IntPtr typeInfo)
    {
        int kind;
        api.Check(api.GetOnnxTypeFromTypeInfo(typeInfo, &kind));
        if ((OnnxValueKind)kind != OnnxValueKind.Tensor)
        {
            return new OnnxValueInfo(name, (OnnxValueKind)kind, TensorElementType.Undefined, [], []);
        }

        IntPtr tensorInfo;
        api.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        int elementType;
        api.Check(api.GetTensorElementType(tensorInfo, &elementType));
        nuint rank;
        api.Check(api.GetDimensionsCount(tensorInfo, &rank));
        var dims = new long[(int)rank];
        var symbolic = new string?[(int)rank];
        if (rank > 0)
        {
            var symbolPtrs = new IntPtr[(int)rank];
            fixed (long* dimPtr = dims)
            fixed (IntPtr* symbolPtr = symbolPtrs)
            {
                api.Check(api.GetDimensions(tensorInfo, dimPtr, rank));
                api.Check(api.GetSymbolicDimensions(tensorInfo, symbolPtr, rank));
            }

            for (int d = 0; d < dims.Length; d++)
            {
                string? symbol = symbolPtrs[d] == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(symbolPtrs[d]);
                symbolic[d] = string.IsNullOrEmpty(symbol) ? null : symbol;
            }
        }

        return new OnnxValueInfo(name, OnnxValueKind.Tensor, (TensorElementType)elementType, dims, symbolic);
    }

    private IntPtr CreateValue(OnnxTensor tensor, string name, out MemoryHandle pin)
    {
        long[] shape = tensor.Shape.ToArray();
        IntPtr value;
        if (tensor is OnnxStringTensor strings)
        {
            pin = default;
            CheckStrings(strings.Array, name);
            fixed (long* shapePtr = shape)
            {
                api.Check(api.CreateTensorAsOrtValue(OrtEnvironment.DefaultAllocator, shapePtr, (nuint)shape.Length, (int)TensorElementType.String, &value));
            }

            try
            {
                using var utf8 = new Utf8Strings(strings.Array);
                fixed (IntPtr* stringPtrs = utf8.Pointers)
                {
                    api.Check(api.FillStringTensor(value, stringPtrs, (nuint)utf8.Pointers.Length));
                }
            }
            catch
            {
                api.ReleaseValue(value);
                throw;
            }

            return value;
        }

        (IntPtr data, nuint byteLength) = PinData(tensor, out pin);
        fixed (long* shapePtr = shape)
        {
            api.Check(api.CreateTensorWithDataAsOrtValue(OrtEnvironment.CpuMemory, (void*)data, byteLength, shapePtr, (nuint)shape.Length, (int)tensor.ElementType, &value));
        }

        return value;
    }

    /// <summary>
    /// FillStringTensor takes NUL-terminated strings: a null element would be dereferenced by ONNX Runtime (the process
    /// crashes) and an element holding U+0000 would be cut short there without a word. Both are refused instead.
    /// </summary>
    private static void CheckStrings(string[] values, string name)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] is null)
            {
                throw new ArgumentException($"String {i} of input '{name}' is null; string tensors need a value in every element (use \"\" for none).", "inputs");
            }

            if (values[i].Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"String {i} of input '{name}' contains a NUL character (U+0000). ONNX Runtime's C API takes NUL-terminated strings, so it would be cut short there.",
                    "inputs");
            }
        }
    }

    // An empty tensor still needs a valid address; ONNX Runtime never reads it.
    private static readonly byte[] EmptyData = GC.AllocateArray<byte>(16, pinned: true);

    private static (IntPtr Pointer, nuint Bytes) PinTyped<T>(OnnxTensor<T> tensor, out MemoryHandle pin) where T : unmanaged
    {
        pin = tensor.Memory.Pin();
        IntPtr pointer = (IntPtr)pin.Pointer;
        if (pointer == IntPtr.Zero)
        {
            pointer = Marshal.UnsafeAddrOfPinnedArrayElement(EmptyData, 0);
        }

        return (pointer, (nuint)tensor.ByteLength);
    }

    private static (IntPtr Data, nuint Bytes) PinData(OnnxTensor tensor, out MemoryHandle pin) =>
        tensor switch
        {
            OnnxTensor<float> t => PinTyped(t, out pin),
            OnnxTensor<double> t => PinTyped(t, out pin),
            OnnxTensor<Half> t => PinTyped(t, out pin),
            OnnxTensor<sbyte> t => PinTyped(t, out pin),
            OnnxTensor<byte> t => PinTyped(t, out pin),
            OnnxTensor<short> t => PinTyped(t, out pin),
            OnnxTensor<ushort> t => PinTyped(t, out pin),
            OnnxTensor<int> t => PinTyped(t, out pin),
            OnnxTensor<uint> t => PinTyped(t, out pin),
            OnnxTensor<long> t => PinTyped(t, out pin),
            OnnxTensor<ulong> t => PinTyped(t, out pin),
            OnnxTensor<bool> t => PinTyped(t, out pin),
            _ => throw new NotSupportedException($"Tensors of {tensor.GetType().Name} cannot be passed to ONNX Runtime."),
        };

    private OnnxTensor ReadValue(IntPtr value, string name)
    {
        int kind;
        api.Check(api.GetValueType(value, &kind));
        if ((OnnxValueKind)kind != OnnxValueKind.Tensor)
        {
            throw new NotSupportedException($"Output '{name}' is a {(OnnxValueKind)kind}; Compression.Runtime reads tensor outputs only.");
        }

        IntPtr info;
        api.Check(api.GetTensorTypeAndShape(value, &info));
        int elementType;
        long[] shape;
        nuint count;
        try
        {
            api.Check(api.GetTensorElementType(info, &elementType));
            nuint rank;
            api.Check(api.GetDimensionsCount(info, &rank));
            shape = new long[(int)rank];
            fixed (long* shapePtr = shape)
            {
                api.Check(api.GetDimensions(info, shapePtr, rank));
            }

            api.Check(api.GetTensorShapeElementCount(info, &count));
        }
        finally
        {
            api.ReleaseTensorTypeAndShapeInfo(info);
        }

        var type = (TensorElementType)elementType;
        if (type == TensorElementType.String)
        {
            return ReadStrings(value, shape, (int)count);
        }

        void* data = null;
        if (count > 0)
        {
            api.Check(api.GetTensorMutableData(value, &data));
        }

        return type switch
        {
            TensorElementType.Float => Copy<float>(data, count, shape, type),
            TensorElementType.Double => Copy<double>(data, count, shape, type),
            TensorElementType.Float16 => Copy<Half>(data, count, shape, type),
            TensorElementType.BFloat16 => Copy<ushort>(data, count, shape, type),
            TensorElementType.Int8 => Copy<sbyte>(data, count, shape, type),
            TensorElementType.UInt8 => Copy<byte>(data, count, shape, type),
            TensorElementType.Int16 => Copy<short>(data, count, shape, type),
            TensorElementType.UInt16 => Copy<ushort>(data, count, shape, type),
            TensorElementType.Int32 => Copy<int>(data, count, shape, type),
            TensorElementType.UInt32 => Copy<uint>(data, count, shape, type),
            TensorElementType.Int64 => Copy<long>(data, count, shape, type),
            TensorElementType.UInt64 => Copy<ulong>(data, count, shape, type),
            TensorElementType.Bool => Copy<bool>(data, count, shape, type),
            _ => throw new NotSupportedException($"Output '{name}' has {TensorElementTypes.Name(type)} elements, which Compression.Runtime does not read."),
        };
    }

    private static OnnxTensor<T> Copy<T>(void* data, nuint count, long[] shape, TensorElementType type) where T : unmanaged
    {
        var array = new T[checked((int)count)];
        if (count > 0)
        {
            new ReadOnlySpan<T>(data, array.Length).CopyTo(array);
        }

        return new OnnxTensor<T>(array, shape, type);
    }

    private OnnxStringTensor ReadStrings(IntPtr value, long[] shape, int count)
    {
        var strings = new string[count];
        if (count == 0)
        {
            return new OnnxStringTensor(strings, shape);
        }

        nuint length;
        api.Check(api.GetStringTensorDataLength(value, &length));
        var bytes = new byte[(int)length];
        var offsets = new nuint[count];
        fixed (byte* bytePtr = bytes)
        fixed (nuint* offsetPtr = offsets)
        {
            api.Check(api.GetStringTensorContent(value, bytePtr, length, offsetPtr, (nuint)count));
        }

        for (int i = 0; i < count; i++)
        {
            int start = (int)offsets[i];
            int end = i + 1 < count ? (int)offsets[i + 1] : bytes.Length;
            strings[i] = Encoding.UTF8.GetString(bytes, start, end - start);
        }

        return new OnnxStringTensor(strings, shape);
    }
}
