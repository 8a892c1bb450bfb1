using System.Globalization;
using Compression.Core.Settings;

namespace Compression.Core.Search;

/// <summary>The options of the budget search: <c>Compress=auto</c> chooses each layer's compression within the gates.</summary>
public static class SearchSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Budget search";

    /// <summary>The settings given are applied as given.</summary>
    public const string Manual = "manual";

    /// <summary>The search chooses each layer's settings.</summary>
    public const string Auto = "auto";

    /// <summary>The smallest deployed (zipped) model.</summary>
    public const string Size = "size";

    /// <summary>The fastest model in ONNX Runtime on this machine.</summary>
    public const string Latency = "latency";

    /// <summary>Quantization candidates: fp16, int8, int4.</summary>
    public const string QuantizeTechnique = "quantize";

    /// <summary>Pruning candidates (with quantization when it is allowed too).</summary>
    public const string PruneTechnique = "prune";

    /// <summary>Low-rank candidates (with int8 when quantization is allowed too).</summary>
    public const string LowRankTechnique = "lowrank";

    /// <summary>Weight clustering candidates.</summary>
    public const string ClusterTechnique = "cluster";

    /// <summary>The techniques a search may use, in the order they are written.</summary>
    public static IReadOnlyList<string> Techniques { get; } = [QuantizeTechnique, PruneTechnique, LowRankTechnique, ClusterTechnique];

    /// <summary>The default budget with labelled validation data: accuracy may drop this many points.</summary>
    public const double DefaultAccuracyDrop = 1;

    /// <summary>The default budget on a classifier-like output without labels: top-1 agreement with the original, in percent.</summary>
    public const double DefaultTop1Agreement = 99;

    /// <summary>The default budget on other outputs: the lowest cosine similarity with the original's.</summary>
    public const double DefaultCosineSimilarity = 0.999;

    /// <summary>Whether the settings are applied as given or searched.</summary>
    public static ChoiceSetting Compress { get; } = new(
        "Compress", Technique, SettingScope.Model, Manual, [Manual, Auto],
        "`manual`: the settings apply as given. `auto`: the build searches each layer's compression (`SearchTechniques`) for the " +
        "smallest (`Goal=size`) or fastest (`Goal=latency`) model within the gates: each layer is compressed alone with each candidate and " +
        "scored, the per-layer choice that the scores say fits the budget is verified, and the search backs off until the combined model " +
        "passes. With no gate set the budget is `MaxAccuracyDrop=1` with labelled `ValidationData`, else `MinTop1Agreement=99` on a " +
        "classifier-like output, else `MinCosineSimilarity=0.999`. The report lists the choice, the candidates and the trials; the build " +
        "writes the choice as an overrides file, so that it can be pinned.");

    /// <summary>What the search minimizes.</summary>
    public static ChoiceSetting Goal { get; } = new(
        "Goal", Technique, SettingScope.Model, Size, [Size, Latency],
        "`Compress=auto`: `size` minimizes the deployed (zipped) size of the model; `latency` its run time in ONNX Runtime, measured on this " +
        "machine on the validation samples with one thread (channel pruning, low-rank and 8-bit dynamic candidates).");

    /// <summary>The techniques the search may use.</summary>
    public static ChoiceSetting SearchTechniques { get; } = new(
        "SearchTechniques", Technique, SettingScope.Model, QuantizeTechnique + "," + PruneTechnique, [.. Techniques],
        "`Compress=auto`: the techniques the search may combine per layer, comma- or semicolon-separated: `quantize` (fp16, int8, int4), " +
        "`prune` (50%, 75%, 90% and 95% with `PruneCriterion`, combined with int8, and up to 90% with int4, when `quantize` is allowed), `lowrank` (50% and 25% of " +
        "the parameters, with int8 when `quantize` is allowed) and `cluster` (16 and 4 shared values).")
    {
        OtherValues = ParseTechniques,
        OtherValuesText = "a list of them such as quantize,prune",
        OtherValuesHelpName = "LIST",
    };

    /// <summary>How long the search may take, in seconds.</summary>
    public static IntegerSetting SearchTimeLimit { get; } = new(
        "SearchTimeLimit", Technique, SettingScope.Model, 300, 1, 86_400,
        "`Compress=auto`: the longest, in seconds, the search may take. The layers are scored first (the table is kept in the " +
        "compression cache, so a rebuild with another budget reuses it), then the combined choices are verified; past the limit the " +
        "search stops with warning OCB0205 and keeps the smallest verified choice. The compression that follows is not counted.");

    /// <summary>Every option, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Compress, Goal, SearchTechniques, SearchTimeLimit];

    /// <summary>The techniques a <see cref="SearchTechniques"/> value names, in <see cref="Techniques"/> order.</summary>
    public static IReadOnlyList<string> TechniquesOf(string value) => value.Split(',').Where(t => t.Length > 0).ToList();

    /// <summary>Reads a list of techniques (comma- or semicolon-separated, any order, each once) into its canonical text, or null.</summary>
    public static string? ParseTechniques(string text)
    {
        string[] parts = text.Split([',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => !Techniques.Contains(p.ToLowerInvariant())))
        {
            return null;
        }

        var named = parts.Select(p => p.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        return named.Count != parts.Length ? null : string.Join(",", Techniques.Where(named.Contains));
    }

    /// <summary>A number as the report and messages write it.</summary>
    internal static string Format(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
