using Compression.Onnx.Protos;

namespace Compression.Core.Opsets;

/// <summary>What raising a model's default opset changed.</summary>
/// <param name="From">The version the model imported.</param>
/// <param name="To">The version it imports now.</param>
/// <param name="ConvertedNodes">How many nodes were rewritten to keep their meaning at the new version.</param>
public sealed record OpsetChange(long From, long To, int ConvertedNodes);

/// <summary>
/// Raises the version of the default ONNX operator set a model imports, so that a pass may add operators
/// that need a newer version (per-axis DequantizeLinear needs 13, blocked 4-bit DequantizeLinear 21). Operators whose inputs or meaning
/// changed between the model's version and the target are rewritten so that the model computes the same
/// outputs; where no rewrite is known the upgrade refuses with <see cref="DiagnosticCodes.OpsetUpgradeBlocked"/>,
/// names the operators and leaves the model unchanged.
/// </summary>
/// <remarks>
/// <para>Rewritten (default domain, main graph and the subgraphs of If, Loop and Scan):</para>
/// <list type="bullet">
/// <item>to 7: the limited broadcasting of Add, Sub, Mul, Div, Pow, And, Or, Xor, Equal, Greater and Less
/// (<c>broadcast</c>, <c>axis</c>), PRelu's per-channel 1-D slope, Gemm's <c>broadcast</c>, BatchNormalization's and
/// Dropout's <c>is_test</c>, the RNNs' <c>output_sequence</c>, the experimental Upsample's height and width scales;</item>
/// <item>to 9: BatchNormalization's <c>spatial</c>, Upsample's scales attribute;</item>
/// <item>to 10: Slice's and TopK's attributes, Upsample (to Resize), Dropout's mask where nothing reads it (dropped);</item>
/// <item>to 11: Clip's and Pad's attributes, Resize's coordinate mapping, Scatter (to ScatterElements);</item>
/// <item>to 12: Dropout's ratio;</item>
/// <item>to 13: the axes of Squeeze, Unsqueeze and ReduceSum, Split's split, and the axis of Softmax, LogSoftmax and
/// Hardmax (by Flatten and Reshape where the axis is not the last);</item>
/// <item>to 14: BatchNormalization's statistics outputs where nothing reads them (dropped);</item>
/// <item>to 16: RoiAlign's default coordinate mapping;</item>
/// <item>to 18: the axes of the other reductions (ReduceMean, ReduceMax, ...), Split's output count;</item>
/// <item>to 20: GridSample's mode names, DFT's axis.</item>
/// </list>
/// <para>Refused: GroupNormalization of opset 18 raised to 21 (its scale and bias changed from per group to per channel),
/// BatchNormalization statistics outputs that are read, Scan before opset 9, the experimental operators ONNX removed, MeanVarianceNormalization before
/// opset 9, BatchNormalization with <c>spatial=0</c> or <c>is_test=0</c>, a Dropout mask that is read before opset
/// 12 (ONNX Runtime fills it with zeros there, with true from 12 on), operators whose definition changed before
/// opset 6, and rewrites that need a rank or a constant the model does not give (opset 6 broadcasting at an axis,
/// Resize-10 in nearest mode with scales computed at run time). New constants become initializers of the main
/// graph, shared where equal; the names of new values, nodes and initializers derive from the node rewritten.</para>
/// </remarks>
public static class OpsetUpgrade
{
    /// <summary>The newest version this upgrade knows the changes up to.</summary>
    public const long MaxTargetVersion = 21;

    /// <summary>
    /// The oldest version this upgrade starts from. Rewrites are known from opset 6 on; a model importing an older
    /// version is raised only when none of its operators changed between its version and 6.
    /// </summary>
    /// <remarks>ONNX Runtime itself refuses models older than opset 7; raised, they run.</remarks>
    public const long MinSourceVersion = 1;

    /// <summary>Raises the model's default opset to <paramref name="target"/> if it is lower.</summary>
    /// <param name="model">The model; changed in place only when the upgrade succeeds.</param>
    /// <param name="target">The version to raise the model to, at most <see cref="MaxTargetVersion"/>.</param>
    /// <param name="modelPath">The model's path, for error messages.</param>
    /// <returns>What changed, or null when the model already imports <paramref name="target"/> or newer.</returns>
    /// <exception cref="CompressionException">The model uses operators whose meaning changed and cannot be rewritten (OCB0005).</exception>
    public static OpsetChange? Apply(ModelProto model, long target, string? modelPath = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (target > MaxTargetVersion)
        {
            throw new ArgumentOutOfRangeException(nameof(target), $"Opset upgrades are known up to version {MaxTargetVersion}.");
        }

        long from = OpsetVersions.DefaultDomainVersion(model) ?? target;
        if (from >= target)
        {
            return null;
        }

        if (from < MinSourceVersion)
        {
            throw new CompressionException(DiagnosticCodes.OpsetUpgradeBlocked, modelPath,
                $"The model imports ONNX opset {from}, which is not a valid version; it cannot be raised to opset {target}. " +
                $"Re-export the model at opset {target} or newer.");
        }

        var conversion = new OpsetConversion(model, from, target);
        GraphProto? graph = model.Graph;
        List<NodeProto>? nodes = graph is null ? null : conversion.ConvertGraph(graph, [.. graph.Node.Select(n => n.Clone())], null);
        if (conversion.Refusals.Count > 0)
        {
            throw new CompressionException(DiagnosticCodes.OpsetUpgradeBlocked, modelPath, RefusalMessage(from, target, conversion.Refusals));
        }

        if (graph is not null && nodes is not null)
        {
            graph.Node.Clear();
            graph.Node.AddRange(nodes);
            graph.Initializer.AddRange(conversion.NewInitializers);
        }

        // Before IR version 4 every initializer was listed among the graph's inputs too, and ONNX Runtime holds such inputs
        // constant; from version 4 on, an initializer listed as an input is only a default the caller may replace. Raising the
        // IR version keeps them constant: they leave the input list.
        if (graph is not null && model.IrVersion < 4)
        {
            var initializers = new HashSet<string>(graph.Initializer.Select(i => i.Name), StringComparer.Ordinal);
            ValueInfoProto[] constants = [.. graph.Input.Where(i => initializers.Contains(i.Name))];
            foreach (ValueInfoProto input in constants)
            {
                graph.Input.Remove(input);
            }
        }

        OpsetVersions.SetDefaultDomainVersion(model, target);
        model.IrVersion = Math.Max(model.IrVersion, MinimumIrVersion(target));

        return new OpsetChange(from, target, conversion.ConvertedNodes);
    }

    /// <summary>The oldest IR version that may import opset <paramref name="version"/> (ONNX's versioning table), at least 7.</summary>
    public static long MinimumIrVersion(long version) => version switch
    {
        >= 21 => 10,
        >= 19 => 9,
        >= 15 => 8,
        _ => 7,
    };

    private static string RefusalMessage(long from, long target, IReadOnlyDictionary<string, SortedSet<string>> refusals)
    {
        IEnumerable<string> described = refusals.Select(r => $"{r.Key} ({string.Join("; ", r.Value)})");
        return $"The model imports ONNX opset {from} and uses {string.Join(", ", refusals.Keys)}, whose inputs or meaning changed " +
            $"before opset {target}, which the compressed model needs, in a way this upgrade cannot rewrite: {string.Join("; ", described)}. " +
            $"Convert the model first (onnx.version_converter.convert_version(model, {target}) in Python) " +
            $"or re-export it at opset {target} or newer.";
    }
}
