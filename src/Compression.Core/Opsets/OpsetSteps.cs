namespace Compression.Core.Opsets;

/// <summary>
/// What changed in the default ONNX operator set from version 6 to 21, operator by operator, as converters that
/// carry a node from the version before to the version named (the same steps as ONNX's version converter, with
/// the rounding and broadcasting details ONNX Runtime's kernels need). Operators and versions without an entry
/// changed only compatibly (new types, new optional inputs or attributes whose defaults keep the old meaning).
/// </summary>
/// <remarks>
/// The converters live in the partial files beside this one, grouped by family: broadcasting and the other
/// opset 7 changes, attributes that became inputs, normalizations, resizing, and the changes after opset 13.
/// </remarks>
internal static partial class OpsetSteps
{
    /// <summary>The oldest version whose changes the table covers; older models may only use operators unchanged since.</summary>
    public const long FirstCoveredVersion = 6;

    private static readonly Dictionary<(string OpType, long Version), NodeConverter> Steps = Build(
    [
        // 6 -> 7: limited broadcasting (broadcast, axis) became numpy-style multidirectional broadcasting.
        .. Each(7, NumpyBroadcasting, "Add", "And", "Div", "Equal", "Greater", "Less", "Mul", "Or", "Pow", "Sub", "Xor"),
        (7, "PRelu", SlopePerChannel),
        (7, "Gemm", r => r.Node.Remove("broadcast")),
        (7, "BatchNormalization", BatchNormalizationTestMode),
        (7, "Dropout", r => r.Node.Remove("is_test")),
        .. Each(7, r => r.Node.Remove("output_sequence"), "GRU", "LSTM", "RNN"),
        (7, "Upsample", UpsampleHeightWidthScales),

        // 8 -> 9
        (9, "BatchNormalization", BatchNormalizationSpatial),
        (9, "Scan", r => r.Refuse(
            "Scan before opset 9 has a batch axis and a sequence_lens input that later versions dropped; no rewrite is known")),
        (9, "MeanVarianceNormalization", r => r.Refuse(
            "MeanVarianceNormalization was experimental before opset 9 (across_channels, normalize_variance) and became a different operator (axes)")),
        (9, "Upsample", UpsampleScalesToInput),

        // 9 -> 10
        (10, "Slice", SliceAttributesToInputs),
        (10, "TopK", TopKAttributeToInput),
        (10, "Dropout", DropoutMask),
        (10, "Upsample", UpsampleToResize),

        // 10 -> 11
        (11, "Clip", ClipAttributesToInputs),
        (11, "Pad", PadAttributesToInputs),
        (11, "Resize", ResizeAsymmetric),
        (11, "Scatter", r => r.Node.OpType = "ScatterElements"),

        // 11 -> 12
        (12, "Dropout", DropoutRatioToInput),

        // 12 -> 13
        (13, "Squeeze", r => AttributeToInt64Input(r, "axes", 1)),
        (13, "Unsqueeze", r => AttributeToInt64Input(r, "axes", 1)),
        (13, "ReduceSum", r => AttributeToInt64Input(r, "axes", 1)),
        (13, "Split", r => AttributeToInt64Input(r, "split", 1)),
        .. Each(13, NormalizeAlongOneAxis, "Hardmax", "LogSoftmax", "Softmax"),

        // 13 -> 14
        (14, "BatchNormalization", BatchNormalizationInferenceOutputs),

        // 15 -> 16
        (16, "RoiAlign", RoiAlignCoordinateMapping),

        // 17 -> 18: the remaining reductions take their axes as an input, as ReduceSum has since 13.
        .. Each(18, r => AttributeToInt64Input(r, "axes", 1),
            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare"),
        (18, "Split", SplitOutputCount),

        // 19 -> 20
        (20, "GridSample", GridSampleModeNames),
        (20, "DFT", DftAxisToInput),

        // 20 -> 21
        (21, "GroupNormalization", r => r.Refuse(
            "GroupNormalization's scale and bias were per group at opset 18 and are per channel from opset 21; no rewrite is known without the channel count")),
    ]);

    // Experimental operators of the first opsets that ONNX dropped (ONNX 1.5): no later version of them exists.
    private static readonly HashSet<string> RemovedOperators = new(StringComparer.Ordinal)
    {
        "ATen", "Affine", "ConstantFill", "Crop", "DynamicSlice", "GRUUnit", "GivenTensorFill", "ImageScaler",
        "ParametricSoftplus", "Scale", "ScaledTanh",
    };

    // Operators whose definition changed at versions 2 to 6, which the table does not cover.
    private static readonly Dictionary<string, long> ChangedBeforeCoveredVersion = BuildChangedBefore(
    [
        (2, ["GlobalLpPool", "LpPool", "Pad", "Split"]),
        (3, ["GRU"]),
        (4, ["Concat"]),
        (5, ["Reshape"]),
        (6, ["Abs", "Add", "BatchNormalization", "Cast", "Ceil", "Clip", "Div", "Dropout", "Elu", "Exp", "Floor", "Gemm",
             "HardSigmoid", "InstanceNormalization", "LeakyRelu", "Log", "Max", "Mean", "Min", "Mul", "Neg", "PRelu",
             "Reciprocal", "Relu", "Selu", "Sigmoid", "Sqrt", "Sub", "Sum", "Tanh", "Tile"]),
    ]);

    /// <summary>The converter that carries <paramref name="opType"/> to <paramref name="version"/>, or null when nothing changed there.</summary>
    public static NodeConverter? Find(string opType, long version) =>
        Steps.TryGetValue((opType, version), out NodeConverter? converter) ? converter : null;

    /// <summary>True when <paramref name="opType"/> has a converter for a version in (<paramref name="from"/>, <paramref name="target"/>].</summary>
    public static bool HasSteps(string opType, long from, long target)
    {
        for (long version = from + 1; version <= target; version++)
        {
            if (Steps.ContainsKey((opType, version)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Why <paramref name="opType"/> cannot be carried from <paramref name="from"/> at all (an operator ONNX removed,
    /// or one that changed before the versions the table covers), or null.
    /// </summary>
    public static string? Unconvertible(string opType, long from, long target)
    {
        if (RemovedOperators.Contains(opType))
        {
            return $"an experimental operator that ONNX removed; it has no equivalent at opset {target}";
        }

        if (ChangedBeforeCoveredVersion.TryGetValue(opType, out long changed) && changed > from)
        {
            return $"changed at opset {changed}; rewrites are known from opset {FirstCoveredVersion} on";
        }

        return null;
    }

    private static IEnumerable<(long Version, string OpType, NodeConverter Convert)> Each(long version, NodeConverter convert, params string[] opTypes) =>
        opTypes.Select(opType => (version, opType, convert));

    private static Dictionary<(string, long), NodeConverter> Build(IEnumerable<(long Version, string OpType, NodeConverter Convert)> steps)
    {
        var table = new Dictionary<(string, long), NodeConverter>();
        foreach ((long version, string opType, NodeConverter convert) in steps)
        {
            table.Add((opType, version), convert);
        }

        return table;
    }

    private static Dictionary<string, long> BuildChangedBefore(IEnumerable<(long Version, string[] OpTypes)> changes)
    {
        // The latest change of each operator counts.
        var table = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach ((long version, string[] opTypes) in changes)
        {
            foreach (string opType in opTypes)
            {
                table[opType] = version;
            }
        }

        return table;
    }
}
