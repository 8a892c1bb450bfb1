using System.Text.Json;
using System.Text.Json.Serialization;
using Compression.Core.Opsets;
using Compression.Core.Passes;
using Compression.Core.Settings;
using Compression.Core.Evaluation;

namespace Compression.Core.Reporting;

/// <summary>Sizes before and after: raw, and deployed (zipped).</summary>
/// <param name="Original">Bytes of the original model file (external data included).</param>
/// <param name="Compressed">Bytes of the compressed model file (external data included).</param>
public sealed record SizeReport(long Original, long Compressed)
{
    /// <summary>Compressed size over original size.</summary>
    public double Ratio => Original == 0 ? 1 : Math.Round((double)Compressed / Original, 4);

    /// <summary>
    /// The original's deployed size: its file and external data deflated as a zip stores them (<see cref="DeployedSize"/>);
    /// null in a report written before it was measured.
    /// </summary>
    public long? ZippedOriginal { get; init; }

    /// <summary>The compressed model's deployed size, measured as <see cref="ZippedOriginal"/> is.</summary>
    public long? ZippedCompressed { get; init; }

    /// <summary>Zipped compressed size over zipped original size, or null when they were not measured.</summary>
    public double? ZippedRatio => ZippedOriginal is not { } before || ZippedCompressed is not { } after ? null
        : before == 0 ? 1 : Math.Round((double)after / before, 4);
}

/// <summary>How long one phase of a compression took.</summary>
/// <param name="Name">The phase: <c>read</c> (read, check and load the model), <c>reference</c> (run the original in ONNX
/// Runtime, when validating), <c>compress</c> (the passes and the compressed file) or <c>validate</c> (run and score the
/// compressed model).</param>
/// <param name="DurationMilliseconds">Its wall-clock time.</param>
public sealed record PhaseTiming(string Name, long DurationMilliseconds);

/// <summary>How long a compression took: measured, so it differs from run to run (see <see cref="CompressionReport"/>).</summary>
/// <param name="DurationMilliseconds">The whole compression's wall-clock time, up to writing its files.</param>
/// <param name="Phases">Each phase's time, in the order they ran.</param>
public sealed record ReportTiming(long DurationMilliseconds, IReadOnlyList<PhaseTiming> Phases);

/// <summary>
/// Everything one compression did, written as JSON beside the model (<c>--report</c>) and summed up on the console.
/// It holds no machine-specific values and, but for <see cref="Timing"/> (the JSON property <c>timing</c>), nothing that
/// differs from run to run: the same model and settings give the same report once <c>timing</c> is left out, and the same
/// compressed model and signature byte for byte. Whatever compares two reports (the determinism tests do) ignores
/// <c>timing</c>; <see cref="TimingProperty"/> names it.
/// </summary>
/// <param name="Source">The original model as given.</param>
/// <param name="Output">The compressed model's file name.</param>
/// <param name="Tool">The compressor and its version.</param>
/// <param name="Settings">Every setting's resolved value and where it came from.</param>
/// <param name="Size">Sizes before and after.</param>
/// <param name="Opset">The default opset change, if one was needed.</param>
/// <param name="Passes">What each pass did: the tensors it changed and those it left alone, with reasons.</param>
/// <param name="SessionConfig">Session entries the compressed model needs in ONNX Runtime.</param>
/// <param name="Validation">The comparison with the original, when validation ran.</param>
/// <param name="Notes">Advice for people who run the model without the generated class.</param>
/// <param name="Warnings">Warnings, as <c>CODE: message</c>.</param>
public sealed record CompressionReport(
    string Source,
    string Output,
    string Tool,
    IReadOnlyList<ResolvedSettingReport> Settings,
    SizeReport Size,
    OpsetChange? Opset,
    IReadOnlyList<PassResult> Passes,
    IReadOnlyDictionary<string, string> SessionConfig,
    ValidationResult? Validation,
    IReadOnlyList<string> Notes,
    IReadOnlyList<string> Warnings)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // A file people read: quotes, apostrophes and non-ASCII names as they are, not as \u0027 escapes.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The JSON property that holds <see cref="Timing"/>: the one part of the report that differs between two
    /// runs with the same model and settings.</summary>
    public const string TimingProperty = "timing";

    /// <summary>How long the compression took, total and per phase; null when not measured.</summary>
    [JsonPropertyName(TimingProperty)]
    public ReportTiming? Timing { get; init; }

    /// <summary>What the budget search did (<c>Compress=auto</c>), or null.</summary>
    public Search.SearchReport? Search { get; init; }

    /// <summary>Every tensor the passes changed.</summary>
    [JsonIgnore]
    public IReadOnlyList<TensorChange> Changed => Passes.SelectMany(p => p.Changed).ToList();

    /// <summary>Every tensor the passes looked at and left alone.</summary>
    [JsonIgnore]
    public IReadOnlyList<TensorLeftAlone> LeftAlone => Passes.SelectMany(p => p.LeftAlone).ToList();

    /// <summary>Reads a report <see cref="ToJson"/> wrote (one stored in the compression cache).</summary>
    /// <exception cref="JsonException">The text is not such a report.</exception>
    public static CompressionReport FromJson(string json) =>
        JsonSerializer.Deserialize<CompressionReport>(json, JsonOptions) ?? throw new JsonException("The report is null.");

    /// <summary>The report as indented JSON, ending with a newline.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
}
