using Compression.Core.Ir;
using Compression.Core.Passes.Clustering;
using Compression.Core.Passes.LowRank;
using Compression.Core.Passes.Pruning;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;

namespace Compression.Core.Search;

/// <summary>A layer the search chooses settings for: a named node with a constant weight.</summary>
/// <param name="Node">The node's name.</param>
/// <param name="OpType">Its operator.</param>
/// <param name="Weight">The weight's name.</param>
/// <param name="Shape">The weight's dimensions.</param>
public sealed record SearchLayer(string Node, string OpType, string Weight, IReadOnlyList<long> Shape)
{
    /// <summary>The settings a node's entry in an overrides file pins: the search leaves such a node as the file says.</summary>
    public static IReadOnlyList<Setting> AmountSettings { get; } =
        [QuantizationSettings.Quantize, PruningSettings.Prune, PruningSettings.PrunePattern, LowRankSettings.LowRank, ClusteringSettings.Cluster];

    /// <summary>
    /// The layers of <paramref name="model"/>'s main graph the search may choose for, in the model's order: MatMul, Gemm
    /// and Conv nodes whose weight is an initializer, Gather nodes that read a table from one, each with a name (an
    /// overrides file addresses nodes by name) and at least <c>WeightThreshold</c> elements, and not pinned by the
    /// overrides file (an op type or node entry that sets Quantize, Prune, PrunePattern, LowRank or Cluster).
    /// </summary>
    public static IReadOnlyList<SearchLayer> Find(Model model, ResolvedSettings settings)
    {
        var layers = new List<SearchLayer>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (Node node in model.Graph.Nodes)
        {
            int index = node.OpType switch
            {
                "MatMul" or "Gemm" or "Conv" => 1,
                "Gather" => 0,
                _ => -1,
            };
            if (index < 0 || !node.IsDefaultDomain || node.Name.Length == 0 || node.Inputs.Count <= index || node.Inputs[index] is not { IsInitializer: true } weight
                || !seen.Add(node.Name))
            {
                continue;
            }

            long[] shape = [.. weight.Initializer!.Dims];
            long elements = shape.Aggregate(1L, (product, dim) => product * dim);
            if (shape.Length < 2 || elements < settings.Get(QuantizationSettings.WeightThreshold, node)
                || AmountSettings.Any(s => settings.OriginOf(s, node).Level >= SettingLevel.OpType))
            {
                continue;
            }

            layers.Add(new SearchLayer(node.Name, node.OpType, weight.Name, shape));
        }

        return layers;
    }
}
