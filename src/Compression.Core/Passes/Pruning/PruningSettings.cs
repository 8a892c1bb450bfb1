using System.Globalization;
using Compression.Core.Settings;

namespace Compression.Core.Passes.Pruning;

/// <summary>The options of pruning: which weights are set to zero (unstructured, N:M) or removed (channels).</summary>
public static class PruningSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Pruning";

    /// <summary>Any weight may be removed.</summary>
    public const string Unstructured = "unstructured";

    /// <summary>Whole output channels (neurons, filters) are removed and the layers around them shrink.</summary>
    public const string Channel = "channel";

    /// <summary>The fraction is reached in every layer.</summary>
    public const string LayerScope = "layer";

    /// <summary>The fraction is reached over all pruned weights together: one threshold on the scores of every layer.</summary>
    public const string GlobalScope = "global";

    /// <summary>The smallest magnitudes go.</summary>
    public const string Magnitude = "magnitude";

    /// <summary>Weights chosen at random (seeded): the baseline the pruning-at-initialization research compares against.</summary>
    public const string Random = "random";

    /// <summary>Iterative synaptic flow scores, from the weights alone.</summary>
    public const string SynFlow = "synflow";

    /// <summary>|weight| times the norm of its input activation, from calibration data.</summary>
    public const string Wanda = "wanda";

    /// <summary>Optimal brain surgeon updates of the remaining weights from the layer's input Gram matrix.</summary>
    public const string SparseGpt = "sparsegpt";

    /// <summary>The criteria that need calibration data.</summary>
    public static IReadOnlyList<string> DataAwareCriteria { get; } = [Wanda, SparseGpt];

    /// <summary>The fraction of weights removed.</summary>
    public static NumberSetting Prune { get; } = new(
        "Prune", Technique, SettingScope.Node, double.NaN, 0, 0.99,
        "The fraction of the weights of MatMul, Gemm and Conv to remove (`0.5`: half), in the pattern of `PrunePattern`, chosen by " +
        "`PruneCriterion`; `none` (the default) prunes nothing. Unstructured and N:M pruning store zeros: the file shrinks once zipped " +
        "or combined with `Cluster` or `Quantize`, and runs at the same speed (ONNX Runtime has no CPU kernel faster on sparse weights). " +
        "`channel` removes whole neurons and filters: fewer FLOPs, a smaller and faster model.");

    /// <summary>Which weights may go together.</summary>
    public static ChoiceSetting PrunePattern { get; } = new(
        "PrunePattern", Technique, SettingScope.Node, Unstructured, [Unstructured, Channel],
        "Which weights go together: `unstructured` (any), `N:M` (N of every M consecutive weights along the input are kept zero: `2:4` " +
        "halves each group of four; `Prune` is then N/M and may be left unset), or `channel` (whole output channels are removed from the " +
        "layer, and the matching inputs from the layers that read it, through BatchNormalization, activations, Flatten, residual Adds " +
        "and Concat).")
    {
        OtherValues = ParseNM,
        OtherValuesText = "N:M with 0 < N < M <= 32 (such as 2:4)",
        OtherValuesHelpName = "N:M",
    };

    /// <summary>Per layer or over the whole model.</summary>
    public static ChoiceSetting PruneScope { get; } = new(
        "PruneScope", Technique, SettingScope.Model, LayerScope, [LayerScope, GlobalScope],
        "`layer`: every pruned weight loses the fraction `Prune`. `global`: one threshold on the criterion's scores over all pruned " +
        "weights, so that layers that matter less lose more (`unstructured` and `channel` only).");

    /// <summary>What decides which weights go.</summary>
    public static ChoiceSetting PruneCriterion { get; } = new(
        "PruneCriterion", Technique, SettingScope.Node, Magnitude, [Magnitude, Random, SynFlow, Wanda, SparseGpt],
        "What decides which weights go: `magnitude` (the smallest |w|), `random` (seeded; the baseline of the pruning-at-initialization " +
        "research), `synflow` (iterative synaptic flow, from the weights alone), `wanda` (|w| times the norm of its input on " +
        "`CalibrationData`) or `sparsegpt` (optimal brain surgeon: the remaining weights are updated to make up for the removed ones, from " +
        "the layer's input Gram matrix on `CalibrationData`). `wanda` and `sparsegpt` need `CalibrationData`.");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Prune, PrunePattern, PruneScope, PruneCriterion];

    /// <summary>Reads <c>N:M</c> (kept zero: N of every M) into its canonical text, or null.</summary>
    public static string? ParseNM(string text) =>
        TryParseNM(text, out int n, out int m) ? string.Create(CultureInfo.InvariantCulture, $"{n}:{m}") : null;

    /// <summary>Reads <c>N:M</c>: N of every M consecutive weights are zero, 0 &lt; N &lt; M &lt;= 32.</summary>
    public static bool TryParseNM(string text, out int n, out int m)
    {
        n = m = 0;
        string[] parts = text.Split(':');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out n)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out m)
            && n > 0 && n < m && m <= 32;
    }
}
