using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// A model signature file as the build adds it to the compilation: an <c>AdditionalFiles</c> item with the
/// metadata MSBuild passes to generators (empty when unset, as MSBuild writes it).
/// </summary>
internal sealed record Sidecar(string Path, string? Text)
{
    public string? ClassName { get; init; }

    public string? Namespace { get; init; }

    public string? ModelPath { get; init; }

    public string? Accessibility { get; init; }

    public string? Embed { get; init; }

    /// <summary>A signature at <c>/app/obj/compressed/&lt;modelFileName&gt;.signature</c>.</summary>
    public static Sidecar For(string modelFileName, string? text) => new("/app/obj/compressed/" + modelFileName + ".signature", text);

    public AdditionalText ToAdditionalText() => new InMemoryAdditionalText(Path, Text);

    public ImmutableDictionary<string, string> Metadata() => ImmutableDictionary<string, string>.Empty
        .Add("build_metadata.AdditionalFiles.OnnxClassName", ClassName ?? string.Empty)
        .Add("build_metadata.AdditionalFiles.OnnxNamespace", Namespace ?? string.Empty)
        .Add("build_metadata.AdditionalFiles.OnnxModelPath", ModelPath ?? string.Empty)
        .Add("build_metadata.AdditionalFiles.OnnxClassAccessibility", Accessibility ?? string.Empty)
        .Add("build_metadata.AdditionalFiles.OnnxEmbed", Embed ?? string.Empty);
}

/// <summary>Signature texts (format 1) for the tests' models.</summary>
internal static class Signatures
{
    /// <summary>Joins lines with LF, as the compressor writes them; fields inside a line are separated by TAB.</summary>
    public static string Of(params string[] lines) => string.Join("\n", lines) + "\n";

    /// <summary>The signature of the Digits sample's model after int8 compression.</summary>
    public static string Digits { get; } = Of(
        "# Compression.Build model signature. Generated; do not edit.",
        "format\t1",
        "source\tModels/digits.onnx",
        "description\tA 64-256-256-10 MLP trained on the UCI digits.",
        "compression\tint8 weights: 3 of 3 MatMul weight tensors, symmetric per output channel",
        "size\t341444\t88120",
        "session-config\tsession.disable_quant_qdq\t1",
        "input\tpixels\tfloat\t2\t$batch\t64",
        "output\tlogits\tfloat\t2\t$batch\t10",
        "output\tprobabilities\tfloat\t2\t$batch\t10");

    /// <summary>A second, unrelated model.</summary>
    public static string Sentiment { get; } = Of(
        "format\t1",
        "source\tModels/sentiment.onnx",
        "compression\tfloat16 weights",
        "size\t1000\t500",
        "input\ttext\tstring\t1\t$batch",
        "output\tscore\tfloat\t2\t$batch\t2");

    /// <summary>TestModels/identity-arrays.onnx: every input fits the plain-array overload.</summary>
    public static string IdentityArrays { get; } = Of(
        "format\t1",
        "source\tTestModels/identity-arrays.onnx",
        "description\tCopies each input to an output.",
        "size\t643\t643",
        "input\ttokens\tint64\t2\t$batch\t4",
        "input\tmask\tbool\t2\t$batch\t4",
        "input\twords\tstring\t1\t$batch",
        "input\tscale\tfloat16\t0",
        "input\tbits\tbfloat16\t1\t2",
        "input\tclass\tint32\t1\t3",
        "output\ttokens_out\tint64\t2\t$batch\t4",
        "output\tmask_out\tbool\t2\t$batch\t4",
        "output\twords_out\tstring\t1\t$batch",
        "output\tscale_out\tfloat16\t0",
        "output\tbits_out\tbfloat16\t1\t2",
        "output\tclass_out\tint32\t1\t3");

    /// <summary>TestModels/identity-open.onnx: an input of unknown rank and one with two open dimensions.</summary>
    public static string IdentityOpen { get; } = Of(
        "format\t1",
        "source\tTestModels/identity-open.onnx",
        "input\tvalues\tfloat\t*",
        "input\tgrid\tuint8\t2\t$height\t?",
        "output\tvalues_out\tfloat\t*",
        "output\tgrid_out\tuint8\t2\t$height\t?");
}
