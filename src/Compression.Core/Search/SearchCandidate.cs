using System.Globalization;
using Compression.Core.Passes.Clustering;
using Compression.Core.Passes.LowRank;
using Compression.Core.Passes.Pruning;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;

namespace Compression.Core.Search;

/// <summary>
/// One way the search may compress a layer: the values of the node-scope settings that say how much (Quantize, Prune,
/// LowRank, Cluster and, for channel pruning, PrunePattern). The other settings (PruneCriterion, Algorithm, BlockSize...)
/// keep the values the user gave.
/// </summary>
/// <param name="Name">How the report names it (<c>int8 + prune 50%</c>).</param>
/// <param name="Quantize">The Quantize value (<c>none</c> for none).</param>
/// <param name="Prune">The Prune fraction, NaN for none.</param>
/// <param name="LowRank">The LowRank fraction, NaN for none.</param>
/// <param name="Cluster">The Cluster bits, 0 for none.</param>
/// <param name="PrunePattern">The PrunePattern value, or null to keep the user's.</param>
public sealed record SearchCandidate(string Name, string Quantize, double Prune, double LowRank, long Cluster, string? PrunePattern = null)
{
    /// <summary>The layer is left as it is.</summary>
    public static SearchCandidate None { get; } = new("none", QuantizationSettings.None, double.NaN, double.NaN, IntegerSetting.AutoValue);

    /// <summary>The settings the candidate sets on its node.</summary>
    public IReadOnlyDictionary<Setting, object> Values
    {
        get
        {
            var values = new Dictionary<Setting, object>
            {
                [QuantizationSettings.Quantize] = Quantize,
                [PruningSettings.Prune] = Prune,
                [LowRankSettings.LowRank] = LowRank,
                [ClusteringSettings.Cluster] = Cluster,
            };
            if (PrunePattern is not null)
            {
                values[PruningSettings.PrunePattern] = PrunePattern;
            }

            return values;
        }
    }

    /// <summary>True when the candidate only quantizes: no pruning, low-rank factorization or clustering (nothing distilled).</summary>
    public bool QuantizesOnly => double.IsNaN(Prune) && double.IsNaN(LowRank) && Cluster == IntegerSetting.AutoValue;

    /// <summary>Whether the techniques of the candidate apply to a node of <paramref name="opType"/> (Gather: quantization only).</summary>
    public bool AppliesTo(string opType) => opType switch
    {
        "MatMul" or "Gemm" => true,
        "Conv" => true,
        "Gather" => QuantizesOnly,
        _ => false,
    };

    /// <summary>
    /// The candidates of a search for <paramref name="goal"/> that uses <paramref name="techniques"/>, from the least to the
    /// most compressing within each technique; <see cref="None"/> is not among them.
    /// </summary>
    public static IReadOnlyList<SearchCandidate> For(string goal, IReadOnlyList<string> techniques)
    {
        bool quantize = techniques.Contains(SearchSettings.QuantizeTechnique);
        var candidates = new List<SearchCandidate>();
        if (goal == SearchSettings.Latency)
        {
            if (quantize)
            {
                candidates.Add(Quantized(QuantizationSettings.Int8));
                candidates.Add(Quantized(QuantizationSettings.Int4));
            }

            if (techniques.Contains(SearchSettings.PruneTechnique))
            {
                foreach (double fraction in (double[])[0.25, 0.5])
                {
                    candidates.Add(new SearchCandidate($"prune channels {Percent(fraction)}", QuantizationSettings.None, fraction, double.NaN, IntegerSetting.AutoValue, PruningSettings.Channel));
                    if (quantize)
                    {
                        candidates.Add(new SearchCandidate($"prune channels {Percent(fraction)} + int8", QuantizationSettings.Int8, fraction, double.NaN, IntegerSetting.AutoValue, PruningSettings.Channel));
                    }
                }
            }

            AddLowRank(candidates, techniques, quantize);
            return candidates;
        }

        if (quantize)
        {
            // int8 first: the table is scored candidate by candidate, and int8 is the one most layers take when time runs short.
            candidates.Add(Quantized(QuantizationSettings.Int8));
            candidates.Add(Quantized(QuantizationSettings.Fp16));
            candidates.Add(Quantized(QuantizationSettings.Int4));
        }

        if (techniques.Contains(SearchSettings.PruneTechnique))
        {
            // Up to 95%: with distillation every layer of the digits CNN passes 90% alone, and a range the budget never reaches
            // leaves the search nothing to choose but the uniform extreme.
            foreach (double fraction in (double[])[0.5, 0.75, 0.9, 0.95])
            {
                candidates.Add(quantize
                    ? new SearchCandidate($"int8 + prune {Percent(fraction)}", QuantizationSettings.Int8, fraction, double.NaN, IntegerSetting.AutoValue)
                    : new SearchCandidate($"prune {Percent(fraction)}", QuantizationSettings.None, fraction, double.NaN, IntegerSetting.AutoValue));
            }

            if (quantize)
            {
                foreach (double fraction in (double[])[0.5, 0.75, 0.9])
                {
                    candidates.Add(new SearchCandidate($"int4 + prune {Percent(fraction)}", QuantizationSettings.Int4, fraction, double.NaN, IntegerSetting.AutoValue));
                }
            }
        }

        AddLowRank(candidates, techniques, quantize);
        if (techniques.Contains(SearchSettings.ClusterTechnique))
        {
            foreach (long bits in (long[])[4, 2])
            {
                candidates.Add(new SearchCandidate($"cluster {1 << (int)bits} values", QuantizationSettings.None, double.NaN, double.NaN, bits));
            }
        }

        return candidates;
    }

    private static void AddLowRank(List<SearchCandidate> candidates, IReadOnlyList<string> techniques, bool quantize)
    {
        if (!techniques.Contains(SearchSettings.LowRankTechnique))
        {
            return;
        }

        foreach (double fraction in (double[])[0.5, 0.25])
        {
            candidates.Add(quantize
                ? new SearchCandidate($"low-rank {Percent(fraction)} + int8", QuantizationSettings.Int8, double.NaN, fraction, IntegerSetting.AutoValue)
                : new SearchCandidate($"low-rank {Percent(fraction)}", QuantizationSettings.None, double.NaN, fraction, IntegerSetting.AutoValue));
        }
    }

    private static SearchCandidate Quantized(string quantize) => new(quantize, quantize, double.NaN, double.NaN, IntegerSetting.AutoValue);

    private static string Percent(double fraction) => (fraction * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
}
