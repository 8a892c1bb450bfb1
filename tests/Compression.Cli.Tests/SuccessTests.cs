using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Compression.Cli.Tests.Support;

namespace Compression.Cli.Tests;

/// <summary>A successful run: the summary on stdout with sizes and validation figures, and the three files.</summary>
public sealed partial class SuccessTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Compressing_the_digits_model_prints_sizes_and_validation_figures_and_writes_model_signature_and_report()
    {
        string output = folder.File("out", "digits.onnx");
        string report = folder.File("out", "digits.report.json");

        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", output, "-r", report);

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.Equal(string.Empty, result.Stderr);
        Assert.Equal(["out/digits.onnx", "out/digits.onnx.signature", "out/digits.report.json"], folder.ListFiles());
        AssertSummaryMatches(result.StdoutLines, RepositoryPaths.DigitsModel, output, report);
        Assert.Equal($"  wrote {output}", result.StdoutLines[^1]);
    }

    [Fact]
    public void Every_setting_is_an_option_and_errors_name_the_option_it_came_from()
    {
        string overrides = folder.File("overrides.json");
        File.WriteAllText(overrides, """{ "opTypes": { "MatMul": { "WeightThreshold": 100000 } } }""");
        string dependencies = folder.File("out", "digits.deps");

        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "--overrides", overrides,
            "--min-cosine-similarity", "0.99", "--validation-samples", "2", "--dependency-file", dependencies);
        CommandResult bad = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("bad.onnx"), "--compression-gate", "maybe");

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("onnx-compress: warning OCB0201:", StringComparison.Ordinal));
        Assert.Contains("on 2 synthesized input sets", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("gates: MinCosineSimilarity met", result.Stdout, StringComparison.Ordinal);
        Assert.Equal([$"file\t{RepositoryPaths.DigitsModel}", $"file\t{overrides}"], File.ReadAllLines(dependencies));
        Assert.Equal(CompressCommand.Failed, bad.ExitCode);
        Assert.Equal("onnx-compress: error OCB0003: CompressionGate='maybe' (--compression-gate on the command line) is not a valid value. Valid values: error, warn.", bad.Stderr.Trim());
    }

    [Fact]
    public void Project_properties_and_metadata_from_the_build_resolve_by_level_and_unknown_metadata_is_ignored()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("digits.onnx"), "-r", folder.File("report.json"), "--no-validate",
            "--property", "WeightThreshold=100000", "--property", "Quantize=int8", "--metadata", "WeightThreshold=0", "--metadata", "ClassName=Digits", "--source-name", "Models/digits.onnx");

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(folder.File("report.json")));
        JsonElement[] settings = report.RootElement.GetProperty("settings").EnumerateArray().ToArray();
        JsonElement threshold = settings.Single(s => s.GetProperty("name").GetString() == "WeightThreshold");
        JsonElement quantize = settings.Single(s => s.GetProperty("name").GetString() == "Quantize");
        Assert.Equal(("0", "metadata WeightThreshold of OnnxModel 'Models/digits.onnx'"), (threshold.GetProperty("value").GetString(), threshold.GetProperty("source").GetString()));
        Assert.Equal("project property OnnxQuantize", quantize.GetProperty("source").GetString());
    }

    [Fact]
    public void Signature_and_source_name_options_are_honoured()
    {
        string signature = folder.File("signatures", "digits.sig");

        CommandResult result = CommandResult.InProcess(
            RepositoryPaths.DigitsModel, "--output", folder.File("digits.onnx"), "--signature", signature, "--source-name", "Models/digits.onnx", "--no-validate");

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.True(File.Exists(signature));
        Assert.False(File.Exists(folder.File("digits.onnx.signature")));
        Assert.Contains("source\tModels/digits.onnx\n", File.ReadAllText(signature), StringComparison.Ordinal);
        Assert.StartsWith("Models/digits.onnx: ", result.StdoutLines.Single(l => !l.StartsWith(' ') && !l.StartsWith("onnx-compress:", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public void Quantize_none_copies_the_model_and_says_so()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("digits.onnx"), "-q", "none", "--no-validate");

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.EndsWith("; copied without compression", result.StdoutLines.Single(l => l.Contains(" -> ", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_weight_threshold_above_every_weight_warns_OCB0201_and_still_writes_the_model()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("digits.onnx"), "--weight-threshold", "1000000", "--no-validate");

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("onnx-compress: warning OCB0201: ", StringComparison.Ordinal));
        Assert.True(File.Exists(folder.File("digits.onnx")));
    }

    /// <summary>The size of a file deflated at the level zip tools use by default.</summary>
    private static long Deflated(string path)
    {
        using var deflated = new MemoryStream();
        using (var deflate = new System.IO.Compression.DeflateStream(deflated, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(File.ReadAllBytes(path));
        }

        return deflated.Length;
    }

    /// <summary>
    /// Checks the summary: <c>source: ORIGINAL -> COMPRESSED bytes (RATIOx), zipped A -> B (Rx); techniques</c> with the files' sizes,
    /// then <c>validated in ONNX Runtime V on N synthesized input sets: OUTPUT max abs error E, cosine C; ...</c>
    /// with the report's figures.
    /// </summary>
    internal static void AssertSummaryMatches(IReadOnlyList<string> stdout, string source, string output, string report)
    {
        long original = new FileInfo(RepositoryPaths.DigitsModel).Length;
        long compressed = new FileInfo(output).Length;
        // The deployed sizes: each file deflated as a zip stores it.
        long zippedOriginal = Deflated(RepositoryPaths.DigitsModel);
        long zippedCompressed = Deflated(output);
        string sizes = string.Create(CultureInfo.InvariantCulture,
            $"{source}: {original:N0} -> {compressed:N0} bytes ({Math.Round((double)compressed / original, 4):0.00}x), " +
            $"zipped {zippedOriginal:N0} -> {zippedCompressed:N0} ({Math.Round((double)zippedCompressed / zippedOriginal, 4):0.00}x); 8-bit, folded to float at load: 3 MatMul weight tensors");
        Assert.StartsWith(sizes, stdout[0], StringComparison.Ordinal);

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(report));
        JsonElement size = json.RootElement.GetProperty("size");
        Assert.Equal(zippedOriginal, size.GetProperty("zippedOriginal").GetInt64());
        Assert.Equal(zippedCompressed, size.GetProperty("zippedCompressed").GetInt64());
        Assert.True(zippedCompressed < zippedOriginal, $"zipped {zippedOriginal} -> {zippedCompressed}");
        JsonElement validation = json.RootElement.GetProperty("validation");
        Match line = ValidationLine().Match(stdout[1]);
        Assert.True(line.Success, $"Not a validation line: {stdout[1]}");
        Assert.Equal(validation.GetProperty("onnxRuntimeVersion").GetString(), line.Groups["version"].Value);
        Assert.Equal(validation.GetProperty("samples").GetInt32().ToString(CultureInfo.InvariantCulture), line.Groups["samples"].Value);
        string[] outputs = line.Groups["outputs"].Value.Split("; ");
        JsonElement[] reported = validation.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(reported.Length, outputs.Length);
        for (int i = 0; i < outputs.Length; i++)
        {
            Match figures = OutputFigures().Match(outputs[i]);
            Assert.True(figures.Success, $"Not an output's figures: {outputs[i]}");
            Assert.Equal(reported[i].GetProperty("name").GetString(), figures.Groups["name"].Value);
            double maxAbsError = reported[i].GetProperty("maxAbsError").GetDouble();
            double cosine = reported[i].GetProperty("cosineSimilarity").GetDouble();
            Assert.Equal(maxAbsError.ToString("G4", CultureInfo.InvariantCulture), figures.Groups["error"].Value);
            Assert.Equal(cosine.ToString("0.000000", CultureInfo.InvariantCulture), figures.Groups["cosine"].Value);
            Assert.True(cosine > 0.999, $"{figures.Groups["name"].Value}: cosine {cosine}");
        }
    }

    [GeneratedRegex(@"^  validated in ONNX Runtime (?<version>\S+) on (?<samples>\d+) synthesized input sets: (?<outputs>.+)$")]
    private static partial Regex ValidationLine();

    [GeneratedRegex(@"^(?<name>\S+) max abs error (?<error>\S+), cosine (?<cosine>[0-9.]+)$")]
    private static partial Regex OutputFigures();
}
