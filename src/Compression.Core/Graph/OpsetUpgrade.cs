using Compression.Onnx.Protos;

namespace Compression.Core.Graph;

/// <summary>What raising a model's default opset changed.</summary>
/// <param name="From">The version the model imported.</param>
/// <param name="To">The version it imports now.</param>
/// <param name="ConvertedNodes">How many nodes were rewritten to keep their meaning at the new version.</param>
public sealed record OpsetChange(long From, long To, int ConvertedNodes);

/// <summary>
/// Raises the version of the default ONNX operator set a model imports, so that a pass may add operators
/// that need a newer version (per-axis DequantizeLinear needs 13). Operators whose inputs or meaning
/// changed between the model's version and the target are rewritten; where no rewrite is known the
/// upgrade refuses with <see cref="DiagnosticCodes.OpsetUpgradeBlocked"/> and names the operators.
/// </summary>
public static class OpsetUpgrade
{
    /// <summary>The newest version this upgrade knows the changes up to.</summary>
    public const long MaxTargetVersion = 13;

    /// <summary>The oldest version ONNX Runtime runs.</summary>
    public const long MinSourceVersion = 7;

    // Operators whose inputs, attributes or meaning changed at a version in (7, 13], with that version.
    private static readonly Dictionary<string, long[]> BreakingChanges = new(StringComparer.Ordinal)
    {
        ["BatchNormalization"] = [9],
        ["Clip"] = [11],
        ["Dropout"] = [12],
        ["Hardmax"] = [13],
        ["LogSoftmax"] = [13],
        ["Pad"] = [11],
        ["ReduceSum"] = [13],
        ["Resize"] = [11],
        ["Scan"] = [9],
        ["Scatter"] = [11],
        ["Slice"] = [10],
        ["Softmax"] = [13],
        ["Split"] = [13],
        ["Squeeze"] = [13],
        ["TopK"] = [10],
        ["Unsqueeze"] = [13],
        ["Upsample"] = [10],
    };

    /// <summary>Raises the model's default opset to <paramref name="target"/> if it is lower.</summary>
    /// <returns>What changed, or null when the model already imports <paramref name="target"/> or newer.</returns>
    /// <exception cref="CompressionException">The model uses operators whose meaning changed and cannot be rewritten (OCB0005).</exception>
    public static OpsetChange? Apply(ModelProto model, long target, string? modelPath = null)
    {
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
                $"The model imports ONNX opset {from}, older than {MinSourceVersion}, the oldest ONNX Runtime runs; " +
                $"it cannot be raised to opset {target}. Re-export the model at opset {target} or newer.");
        }

        var blocking = new SortedSet<string>(StringComparer.Ordinal);
        FindBlocking(model.Graph, from, target, blocking);
        if (blocking.Count > 0)
        {
            throw new CompressionException(DiagnosticCodes.OpsetUpgradeBlocked, modelPath,
                $"The model imports ONNX opset {from} and uses {string.Join(", ", blocking)}, whose inputs or meaning changed " +
                $"before opset {target}, which the compressed model needs. Convert the model first " +
                $"(onnx.version_converter.convert_version(model, {target}) in Python) or re-export it at opset {target} or newer.");
        }

        OpsetVersions.SetDefaultDomainVersion(model, target);
        if (model.IrVersion < 7)
        {
            model.IrVersion = 7;
        }

        return new OpsetChange(from, target, 0);
    }

    private static void FindBlocking(GraphProto? graph, long from, long target, SortedSet<string> blocking)
    {
        if (graph is null)
        {
            return;
        }

        foreach (NodeProto node in graph.Node)
        {
            if (OpsetVersions.IsDefaultDomain(node.Domain) && BreakingChanges.TryGetValue(node.OpType, out long[]? versions))
            {
                foreach (long version in versions)
                {
                    if (version > from && version <= target)
                    {
                        blocking.Add(node.OpType);
                    }
                }
            }

            foreach (AttributeProto attribute in node.Attribute)
            {
                FindBlocking(attribute.G, from, target, blocking);
                foreach (GraphProto subgraph in attribute.Graphs)
                {
                    FindBlocking(subgraph, from, target, blocking);
                }
            }
        }
    }
}
