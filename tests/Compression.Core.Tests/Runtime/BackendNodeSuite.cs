using Microsoft.ML.OnnxRuntime;
using Compression.Core.Runtime;
using System.Collections.Concurrent;
using System.Diagnostics;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Runtime;

internal enum NodeTestStatus
{
    /// <summary>Ran through OnnxSession and every output matched the reference.</summary>
    Matched,
    /// <summary>Not run: the model is outside what OnnxSession or ONNX Runtime handles (see the reason).</summary>
    Skipped,
    /// <summary>Ran, did not match, and is on the known-differences list.</summary>
    KnownDifference,
    /// <summary>Ran and did not match, or OnnxSession misbehaved.</summary>
    Failed,
}

internal sealed record NodeTestOutcome(string Name, NodeTestStatus Status, string Detail, string? SkipReason = null, TimeSpan Elapsed = default);

/// <summary>
/// Runs the ONNX backend suite's node tests (data/node/&lt;test&gt;/model.onnx with test_data_set_0) through
/// <see cref="OnnxSession"/>. Each test runs at most once per process; the per-model theory and the summary share
/// the outcomes.
/// </summary>
internal static class BackendNodeSuite
{
    /// <summary>The backend suite's one-operator tests.</summary>
    public static string NodeTestsDir => Path.Combine(AssemblyMetadata.OnnxTestDataDir, "node");

    /// <summary>
    /// Tests that run and whose outputs ONNX Runtime computes differently from the ONNX reference outputs
    /// in this test data (ONNX 1.12). Each entry says why; OnnxSession passes the data through untouched in all of
    /// them (other tests of the same operators match). Keep it short: an entry that starts matching fails the suite.
    /// </summary>
    public static IReadOnlyDictionary<string, string> KnownDifferences { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Cast float -> string: ONNX Runtime prints 9 significant digits (enough to round-trip a float,
        // "0.60484552"); the reference used numpy's shortest representation ("0.6048455"). ONNX Runtime lists
        // test_cast_FLOAT_to_STRING as failing permanently for this reason (onnx_backend_test_series_filters.jsonc).
        ["test_cast_FLOAT_to_STRING"] = "float-to-string formatting: ORT writes 9 significant digits, numpy the shortest round-trip form",
        ["test_castlike_FLOAT_to_STRING"] = "float-to-string formatting: ORT writes 9 significant digits, numpy the shortest round-trip form",
        ["test_castlike_FLOAT_to_STRING_expanded"] = "float-to-string formatting: ORT writes 9 significant digits, numpy the shortest round-trip form",

        // MaxUnpool of a 2x2 input with indices 5, 7, 13, 15 (from a 4x4 pooling input) into output_shape 5x5: the
        // reference reads the indices as (row, col) of the 4x4 grid and writes at (1,1), (1,3), (3,1), (3,3) of the 5x5
        // output; ORT uses them as flat indices into the 5x5 output, so writes at (1,0), (1,2), (2,3), (3,0).
        // ORT's own backend test filters list it as "result mismatch".
        ["test_maxunpool_export_with_output_shape"] = "ORT reads the indices as flat indices into the padded 5x5 output, the reference as positions in the 4x4 grid (ORT's filter list: result mismatch)",

        // Resize downsampling by scales with coordinate_transformation_mode=align_corners: ORT and the ONNX 1.12
        // reference map output to input coordinates differently (e.g. 4 against 3.142857 for the second element of
        // the linear case); ORT's own backend test filters list both as "results mismatch with onnx tests".
        ["test_resize_downsample_scales_cubic_align_corners"] = "ORT and the ONNX 1.12 reference disagree on align_corners downsampling (ORT's own filter list)",
        ["test_resize_downsample_scales_linear_align_corners"] = "ORT and the ONNX 1.12 reference disagree on align_corners downsampling (ORT's own filter list)",
    };

    /// <summary>
    /// Tests whose outputs are random draws: ONNX Runtime's random generator is not numpy's, even with the same
    /// seed, so the recorded outputs cannot be reproduced. Instead of equality, every output must have the
    /// expected type and shape and each element must be a value the operator can produce from these inputs.
    /// </summary>
    private static readonly Dictionary<string, Func<OnnxTensor[], OnnxTensor[], string?>> RandomOutputChecks = new(StringComparer.Ordinal)
    {
        ["test_bernoulli"] = (_, y) => BernoulliCheck(y),
        ["test_bernoulli_double"] = (_, y) => BernoulliCheck(y),
        ["test_bernoulli_double_expanded"] = (_, y) => BernoulliCheck(y),
        ["test_bernoulli_expanded"] = (_, y) => BernoulliCheck(y),
        ["test_bernoulli_seed"] = (_, y) => BernoulliCheck(y),
        ["test_bernoulli_seed_expanded"] = (_, y) => BernoulliCheck(y),
        ["test_training_dropout"] = DropoutCheck,
        ["test_training_dropout_default"] = DropoutCheck,
        ["test_training_dropout_default_mask"] = DropoutCheck,
        ["test_training_dropout_mask"] = DropoutCheck,
    };

    /// <summary>Float and double outputs compared with a looser absolute tolerance than the default, and why.</summary>
    private static readonly Dictionary<string, (Tolerance Tolerance, string Why)> LooserTolerances = new(StringComparer.Ordinal)
    {
        // Fourier transforms sum N float32 products: bins that are exactly 0 in the (float64) reference come out as a
        // few float32 ulps of the largest output (up to 1912 here, ulp 1.2e-4), e.g. -1.1e-4 instead of 0; the
        // largest difference seen is 2.4e-4 (test_dft_axis), 2 ulps of its largest output.
        ["test_dft"] = (new(1e-3, 5e-4), "float32 FFT rounding; outputs reach 540"),
        ["test_dft_axis"] = (new(1e-3, 5e-4), "float32 FFT rounding; outputs reach 945"),
        ["test_dft_inverse"] = (new(1e-3, 5e-4), "float32 FFT rounding; outputs reach 54"),
        ["test_stft"] = (new(1e-3, 5e-4), "float32 FFT rounding; outputs reach 1912"),
        ["test_stft_with_window"] = (new(1e-3, 5e-4), "float32 FFT rounding; outputs reach 952"),
    };

    /// <summary>Names of the tests checked by property rather than equality (random outputs).</summary>
    public static IReadOnlyCollection<string> RandomOutputTests => RandomOutputChecks.Keys;

    /// <summary>Names of the tests compared with a looser tolerance, with the reason.</summary>
    public static IReadOnlyDictionary<string, string> LooserToleranceTests =>
        LooserTolerances.ToDictionary(e => e.Key, e => $"{e.Value.Why} (rtol {e.Value.Tolerance.Relative}, atol {e.Value.Tolerance.Absolute})");

    private static readonly ConcurrentDictionary<string, Lazy<NodeTestOutcome>> Outcomes = new(StringComparer.Ordinal);

    private static readonly Lazy<string[]> AllNames = new(() =>
        Directory.Exists(NodeTestsDir)
            ? Directory.GetDirectories(NodeTestsDir)
                .Where(d => File.Exists(Path.Combine(d, "model.onnx")))
                .Select(d => Path.GetFileName(d)!)
                .OrderBy(n => n, StringComparer.Ordinal)
                .ToArray()
            : []);

    public static IReadOnlyList<string> Names => AllNames.Value;

    public static NodeTestOutcome Get(string name) =>
        Outcomes.GetOrAdd(name, n => new Lazy<NodeTestOutcome>(() => Timed(n), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    private static NodeTestOutcome Timed(string name)
    {
        var clock = Stopwatch.StartNew();
        NodeTestOutcome outcome;
        try
        {
            outcome = Run(name);
        }
        catch (Exception e)
        {
            outcome = new NodeTestOutcome(name, NodeTestStatus.Failed, $"{e.GetType().Name}: {e.Message}");
        }

        return outcome with { Elapsed = clock.Elapsed };
    }

    private static readonly OnnxSessionOptions Options = new() { IntraOpThreads = 1 };

    private static NodeTestOutcome Run(string name)
    {
        string folder = Path.Combine(NodeTestsDir, name);
        string modelPath = Path.Combine(folder, "model.onnx");
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath));
        GraphProto graph = model.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        ValueInfoProto[] inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).ToArray();
        ValueInfoProto[] outputs = graph.Output.ToArray();

        // Only dense tensors of the element types OnnxSession passes take part.
        foreach (ValueInfoProto value in inputs.Concat(outputs))
        {
            TypeProto.ValueOneofCase kind = value.Type?.ValueCase ?? TypeProto.ValueOneofCase.None;
            if (kind != TypeProto.ValueOneofCase.TensorType)
            {
                return Skip(name, "not dense tensors: the model has sequence, optional or map inputs or outputs, which OnnxSession does not pass",
                    $"'{value.Name}' is a {kind}");
            }

            var type = (TensorElementType)value.Type!.TensorType.ElemType;
            if (!Supported(type))
            {
                return Skip(name, $"element type {value.Type.TensorType.ElemType} is not one OnnxSession supports", $"'{value.Name}'");
            }
        }

        OnnxSession session;
        try
        {
            session = new OnnxSession(modelPath, Options);
        }
        catch (OnnxRuntimeException e) when (LoadSkipReason(e) is string reason)
        {
            return Skip(name, reason, e.Message);
        }

        using (session)
        {
            string? signature = CheckSignature(session.Inputs, inputs, "input") ?? CheckSignature(session.Outputs, outputs, "output");
            if (signature is not null)
            {
                return new NodeTestOutcome(name, NodeTestStatus.Failed, signature);
            }

            string data = Path.Combine(folder, "test_data_set_0");
            var feeds = new OnnxTensor[inputs.Length];
            for (int i = 0; i < feeds.Length; i++)
            {
                feeds[i] = ReadTensor(Path.Combine(data, $"input_{i}.pb"), inputs[i]);
            }

            var expected = new OnnxTensor[outputs.Length];
            for (int k = 0; k < expected.Length; k++)
            {
                expected[k] = ReadTensor(Path.Combine(data, $"output_{k}.pb"), outputs[k]);
            }

            OnnxTensor[] results;
            try
            {
                results = session.Run(inputs.Select(i => i.Name).ToArray(), feeds, []);
            }
            catch (OnnxRuntimeException e) when (e.Message.Contains(MissingLocale, StringComparison.Ordinal))
            {
                return Skip(name, MissingLocaleReason, e.Message);
            }
            catch (OnnxRuntimeException e) when (e.Code() == "InvalidArgument" && ContradictsDeclaredShape(inputs, feeds) is string contradiction)
            {
                // ORT checks inputs against the declared shapes; the reference runner does not.
                return Skip(name, "invalid test data: an input's shape contradicts the model's declared shape, and ORT rightly rejects it (InvalidArgument)",
                    $"{contradiction}; ORT: {e.Message}");
            }

            if (results.Length != outputs.Length)
            {
                return new NodeTestOutcome(name, NodeTestStatus.Failed, $"{results.Length} outputs, expected {outputs.Length}");
            }

            // Type and shape must always match, whatever list a test is on.
            var problems = new List<string>();
            for (int k = 0; k < outputs.Length; k++)
            {
                if (results[k].ElementType != expected[k].ElementType || !results[k].Shape.SequenceEqual(expected[k].Shape))
                {
                    problems.Add($"output {k} '{outputs[k].Name}' is {results[k]}, expected {expected[k]}");
                }
            }

            if (problems.Count > 0)
            {
                return new NodeTestOutcome(name, NodeTestStatus.Failed, string.Join("; ", problems));
            }

            if (RandomOutputChecks.TryGetValue(name, out var check))
            {
                string? wrong = check(feeds, results);
                return wrong is null
                    ? new NodeTestOutcome(name, NodeTestStatus.Matched, $"random outputs: types, shapes and every value are possible outcomes ({outputs.Length} output(s))")
                    : new NodeTestOutcome(name, NodeTestStatus.Failed, "random outputs: " + wrong);
            }

            Tolerance? tolerance = LooserTolerances.TryGetValue(name, out var looser) ? looser.Tolerance : null;
            for (int k = 0; k < outputs.Length; k++)
            {
                string? difference = TensorComparer.Compare(expected[k], results[k], tolerance);
                if (difference is not null)
                {
                    problems.Add($"output {k} '{outputs[k].Name}': {difference}");
                }
            }

            bool known = KnownDifferences.TryGetValue(name, out string? why);
            if (problems.Count == 0)
            {
                return known
                    ? new NodeTestOutcome(name, NodeTestStatus.Failed, $"on the known-differences list ({why}) but now matches: remove it from the list")
                    : new NodeTestOutcome(name, NodeTestStatus.Matched, $"{outputs.Length} output(s) match" + (tolerance is null ? "" : $" (looser tolerance: {looser.Why})"));
            }

            return known
                ? new NodeTestOutcome(name, NodeTestStatus.KnownDifference, $"{why} [{string.Join("; ", problems)}]")
                : new NodeTestOutcome(name, NodeTestStatus.Failed, string.Join("; ", problems));
        }
    }

    private const string MissingLocale = "Failed to construct locale";

    private const string MissingLocaleReason =
        "environment: ORT's StringNormalizer needs the en_US.UTF-8 locale, which this machine does not have (runs where it is installed)";

    /// <summary>
    /// Why a model that ONNX Runtime refuses to load is skipped, or null when the refusal is unexpected (a failure).
    /// Only refusals that are about ONNX Runtime itself count: a kernel it does not have for these types, an
    /// operator its inference build does not register, an attribute value its kernel rejects, or a missing locale.
    /// </summary>
    private static string? LoadSkipReason(OnnxRuntimeException e) => e.Code() switch
    {
        "NotImplemented" =>
            "ORT has no CPU kernel for this operator and element type (NotImplemented)",
        "Fail" when e.Message.Contains("is not a registered function/op", StringComparison.Ordinal) =>
            "ORT's inference build does not register the operator (ai.onnx.preview.training optimizers)",
        _ when e.Message.Contains("(layout == 1) are not supported", StringComparison.Ordinal) =>
            "ORT's RNN kernels reject batch-first layout (layout=1)",
        _ when e.Message.Contains(MissingLocale, StringComparison.Ordinal) => MissingLocaleReason,
        _ => null,
    };

    /// <summary>
    /// Reads a test tensor. ONNX 1.12 wrote bfloat16 tensors as UINT16 (numpy has no bfloat16): where the model
    /// declares bfloat16 and the file says uint16, the same bits are bfloat16.
    /// </summary>
    private static OnnxTensor ReadTensor(string path, ValueInfoProto declared)
    {
        OnnxTensor tensor = TensorProtoReader.ToOnnxTensor(TensorProtoReader.ReadFile(path));
        if ((TensorElementType)declared.Type.TensorType.ElemType == TensorElementType.BFloat16 && tensor.ElementType == TensorElementType.UInt16)
        {
            return new OnnxTensor<ushort>(tensor.As<ushort>().Memory, tensor.Shape, TensorElementType.BFloat16);
        }

        return tensor;
    }

    private static string? ContradictsDeclaredShape(ValueInfoProto[] declared, OnnxTensor[] feeds)
    {
        for (int i = 0; i < declared.Length; i++)
        {
            TensorShapeProto? shape = declared[i].Type.TensorType.Shape;
            if (shape is null)
            {
                continue;
            }

            ReadOnlySpan<long> actual = feeds[i].Shape;
            bool contradicts = actual.Length != shape.Dim.Count;
            for (int d = 0; !contradicts && d < actual.Length; d++)
            {
                contradicts = shape.Dim[d].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && shape.Dim[d].DimValue != actual[d];
            }

            if (contradicts)
            {
                return $"input '{declared[i].Name}' is declared [{string.Join(", ", shape.Dim.Select(x => x.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? x.DimValue.ToString() : x.DimParam))}] but the data is {OnnxTensor.FormatShape(actual)}";
            }
        }

        return null;
    }

    private static string? BernoulliCheck(OnnxTensor[] outputs)
    {
        OnnxTensor y = outputs[0];
        double[] values = y.ElementType switch
        {
            TensorElementType.Float => y.As<float>().ToArray().Select(v => (double)v).ToArray(),
            TensorElementType.Double => y.As<double>().ToArray(),
            _ => [double.NaN],
        };
        int bad = Array.FindIndex(values, v => v is not (0 or 1));
        return bad < 0 ? null : $"element {bad} is {values[bad]}, not 0 or 1";
    }

    /// <summary>Dropout in training mode: y = x / (1 - ratio) where kept, 0 where dropped; the mask says which.</summary>
    private static string? DropoutCheck(OnnxTensor[] inputs, OnnxTensor[] outputs)
    {
        float[] x = inputs[0].As<float>().ToArray();
        float ratio = inputs[1].As<float>()[0];
        float[] y = outputs[0].As<float>().ToArray();
        bool[]? mask = outputs.Length > 1 ? outputs[1].As<bool>().ToArray() : null;
        int kept = 0;
        for (int i = 0; i < x.Length; i++)
        {
            bool isKept = Math.Abs(y[i] - x[i] / (1 - ratio)) <= 1e-5 + 1e-5 * Math.Abs(y[i]);
            bool isDropped = y[i] == 0;
            if (!isKept && !isDropped)
            {
                return $"y[{i}] = {y[i]} is neither 0 nor x / (1 - ratio) = {x[i] / (1 - ratio)}";
            }

            if (mask is not null && (mask[i] ? !isKept : !isDropped))
            {
                return $"mask[{i}] = {mask[i]} but y[{i}] = {y[i]} for x = {x[i]}";
            }

            kept += isKept && x[i] != 0 ? 1 : 0;
        }

        // With 60 elements and ratio 0.5 or 0.75, keeping none or all would mean the draw is not random at all.
        return kept == 0 || kept == x.Length ? $"{kept} of {x.Length} elements kept at ratio {ratio}" : null;
    }

    private static NodeTestOutcome Skip(string name, string reason, string detail) =>
        new(name, NodeTestStatus.Skipped, detail, reason);

    private static bool Supported(TensorElementType type) =>
        type is >= TensorElementType.Float and <= TensorElementType.UInt64 and not TensorElementType.Complex64
            or TensorElementType.BFloat16;

    /// <summary>OnnxSession's view of the signature must be the model's: names in order, element types, and the
    /// dimensions the model declares (sizes, or -1 with the symbolic name).</summary>
    private static string? CheckSignature(IReadOnlyList<OnnxValueInfo> reported, ValueInfoProto[] declared, string kind)
    {
        if (reported.Count != declared.Length)
        {
            return $"the session reports {reported.Count} {kind}s, the model declares {declared.Length}";
        }

        for (int i = 0; i < declared.Length; i++)
        {
            OnnxValueInfo info = reported[i];
            ValueInfoProto model = declared[i];
            if (info.Name != model.Name || info.Kind != OnnxValueKind.Tensor || (int)info.ElementType != model.Type.TensorType.ElemType)
            {
                return $"{kind} {i} is reported as {info} ({info.Kind}), the model declares '{model.Name}' of element type {model.Type.TensorType.ElemType}";
            }

            TensorShapeProto? shape = model.Type.TensorType.Shape;
            if (shape is null)
            {
                continue;
            }

            bool same = info.Dimensions.Count == shape.Dim.Count;
            for (int d = 0; same && d < shape.Dim.Count; d++)
            {
                TensorShapeProto.Types.Dimension dim = shape.Dim[d];
                same = dim.ValueCase switch
                {
                    TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => info.Dimensions[d] == dim.DimValue,
                    TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => info.Dimensions[d] == -1 && info.SymbolicDimensions[d] == dim.DimParam,
                    _ => info.Dimensions[d] == -1,
                };
            }

            if (!same)
            {
                return $"{kind} '{info.Name}' is reported with shape {info.ShapeText}, the model declares [{string.Join(", ", shape.Dim.Select(x => x.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? x.DimValue.ToString() : x.DimParam))}]";
            }
        }

        return null;
    }
}
