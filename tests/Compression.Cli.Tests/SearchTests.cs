using System.Text.Json;
using Compression.Cli.Tests.Support;
using Compression.Onnx;

namespace Compression.Cli.Tests;

/// <summary>
/// <c>--auto</c> (the budget search) on the digits MLP with labelled samples: the choice in the summary, written as an
/// overrides file that pins the same model, and the command line's conflicts and leftovers.
/// </summary>
public sealed class SearchTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    private string Validation => LabelledDigits.Write(folder.File("validation"), 0, 120);

    [Fact]
    public void Auto_searches_writes_the_choice_as_an_overrides_file_and_prints_budget_choice_and_trials()
    {
        string validation = Validation;
        string output = folder.File("out", "digits.onnx");
        string report = folder.File("out", "digits.report.json");
        string overrides = folder.File("out", "digits.search.json");

        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", output, "-r", report, "--auto", "--validation-data", validation, "--write-overrides", overrides);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr + result.Stdout);
        Assert.Equal(string.Empty, result.Stderr);

        // The overrides file names each MatMul node of the model, with the amounts the search chose for it.
        string[] matMuls = [.. OnnxModelFile.Load(RepositoryPaths.DigitsModel).Graph.Node.Where(n => n.OpType == "MatMul").Select(n => n.Name)];
        using JsonDocument file = JsonDocument.Parse(File.ReadAllText(overrides));
        JsonProperty[] nodes = [.. file.RootElement.GetProperty("nodes").EnumerateObject()];
        Assert.Equal(matMuls, nodes.Select(n => n.Name));
        Assert.All(nodes, n => Assert.Equal(["Quantize", "Prune", "LowRank", "Cluster"], n.Value.EnumerateObject().Select(p => p.Name)));

        // The report says what the summary says: the default budget, the choice per layer, the trials.
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(report));
        JsonElement search = json.RootElement.GetProperty("search");
        Assert.Equal(File.ReadAllText(overrides), search.GetProperty("overrides").GetString());
        JsonElement[] trials = [.. search.GetProperty("trials").EnumerateArray()];
        JsonElement chosen = trials[search.GetProperty("chosen").GetInt32()];
        Assert.True(chosen.GetProperty("passed").GetBoolean());
        string[] candidates = [.. search.GetProperty("candidates").EnumerateArray().Select(c => c.GetString()!)];
        string choice = string.Join(", ", search.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("chosen").GetString()!)
            .GroupBy(c => c).OrderBy(g => Array.IndexOf(candidates, g.Key)).Select(g => $"{g.Key} x{g.Count()}"));
        Assert.DoesNotContain("none", choice, StringComparison.Ordinal);
        Assert.Contains(
            $"  budget search (Goal=size): MaxAccuracyDrop=1 (the default budget of Compress=auto); chose 3 layers: {choice} ({chosen.GetProperty("label").GetString()}); " +
            $"{trials.Length} trials verified, {trials.Count(t => t.GetProperty("passed").GetBoolean())} passed",
            result.StdoutLines);
        Assert.Contains($"  search choice written to {overrides}: pin it with --overrides {overrides} --compress manual", result.StdoutLines);
        Assert.Contains("gates: MaxAccuracyDrop met", result.Stdout, StringComparison.Ordinal);

        // Pinned, the choice gives the same model without a search, and the search's file is then removed.
        string pinned = folder.File("pinned", "digits.onnx");
        CommandResult pin = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", pinned, "--overrides", overrides, "--compress", "manual", "--validation-data", validation,
            "--write-overrides", folder.File("pinned", "digits.search.json"));
        Assert.True(pin.ExitCode == CompressCommand.Success, pin.Stderr);
        Assert.Equal(File.ReadAllBytes(output), File.ReadAllBytes(pinned));
        Assert.DoesNotContain(pin.StdoutLines, l => l.Contains("budget search", StringComparison.Ordinal));
        Assert.Equal(["digits.onnx", "digits.onnx.signature"], Directory.GetFiles(folder.File("pinned")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Auto_is_the_same_as_compress_auto_and_without_write_overrides_the_summary_says_how_to_get_the_file()
    {
        string validation = Validation;

        CommandResult flag = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("flag", "digits.onnx"), "--auto", "--validation-data", validation);
        CommandResult option = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("option", "digits.onnx"), "--compress", "auto", "--validation-data", validation,
            "--write-overrides", folder.File("option", "digits.search.json"));

        Assert.True(flag.ExitCode == CompressCommand.Success, flag.Stderr);
        Assert.True(option.ExitCode == CompressCommand.Success, option.Stderr);
        Assert.Equal(File.ReadAllBytes(folder.File("flag", "digits.onnx")), File.ReadAllBytes(folder.File("option", "digits.onnx")));
        Assert.Contains("  search choice not written as an overrides file: --write-overrides FILE writes it, to pin it with --overrides FILE --compress manual", flag.StdoutLines);
        Assert.Equal(
            flag.StdoutLines.Single(l => l.StartsWith("  budget search ", StringComparison.Ordinal)),
            option.StdoutLines.Single(l => l.StartsWith("  budget search ", StringComparison.Ordinal)));
    }

    [Fact]
    public void From_the_cache_the_search_lines_and_overrides_file_come_back_and_for_a_build_the_lines_leave_pinning_to_it()
    {
        string validation = Validation;
        string overrides = folder.File("out", "digits.search.json");
        string[] args = [RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "--auto", "--validation-data", validation, "--cache-dir", folder.File("cache"),
            "--write-overrides", overrides, "--diagnostic-format", "MSBuild"];

        CommandResult first = CommandResult.InProcess(args);
        byte[] written = File.ReadAllBytes(overrides);
        File.Delete(overrides);
        CommandResult second = CommandResult.InProcess(args);

        Assert.True(first.ExitCode == CompressCommand.Success, first.Stdout + first.Stderr);
        Assert.True(second.ExitCode == CompressCommand.Success, second.Stdout + second.Stderr);
        Assert.Contains(": from cache in ", second.StdoutLines[0], StringComparison.Ordinal);
        Assert.Equal(written, File.ReadAllBytes(overrides));
        string[] SearchLines(CommandResult result) => [.. result.StdoutLines.Where(l => l.StartsWith("  budget search ", StringComparison.Ordinal) || l.StartsWith("  search ", StringComparison.Ordinal))];
        Assert.Equal(2, SearchLines(first).Length);
        Assert.Equal($"  search choice written to {overrides}", SearchLines(first)[1]);
        Assert.Equal(SearchLines(first), SearchLines(second));
    }

    [Theory]
    [InlineData("manual")]
    [InlineData("Manual")]
    public void Auto_with_compress_manual_is_a_usage_error_and_nothing_is_written(string compress)
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "--auto", "--compress", compress,
            "--write-overrides", folder.File("out", "digits.search.json"));

        Assert.Equal(CompressCommand.UsageError, result.ExitCode);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Equal(
            $"onnx-compress: error: --auto is the same as --compress auto and cannot be given with --compress {compress}; give one of them. Run 'onnx-compress --help' for usage.",
            result.Stderr.Trim());
        Assert.Empty(folder.Contents());
    }

    [Fact]
    public void Without_a_search_write_overrides_removes_the_file_an_earlier_search_left()
    {
        string stale = folder.File("out", "digits.search.json");
        Directory.CreateDirectory(folder.File("out"));
        File.WriteAllText(stale, """{ "nodes": { "fc1_matmul": "none" } }""");

        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "--no-validate", "--write-overrides", stale);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.False(File.Exists(stale));
        Assert.DoesNotContain(result.StdoutLines, l => l.Contains("search", StringComparison.Ordinal));
    }
}
