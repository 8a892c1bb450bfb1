using System.Text.Json;
using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Reporting;
using Compression.Core.Search;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;

namespace Compression.Core.Tests.Search;

/// <summary>
/// Compress=auto through the compressor on the digits MLP and CNN, judged on labelled samples (the first half of the test
/// split): the choice passes its budget, is what the compression then writes, is no larger than any uniform choice that
/// passed, is the same bytes on a second run and when pinned through the overrides file it wrote, and a changed budget
/// reuses the sensitivity table from the cache.
/// </summary>
public sealed class BudgetSearchTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_digits_MLP_search_passes_its_default_budget_and_is_smaller_than_the_default_int8()
    {
        string output = folder.File("mlp", "digits.onnx");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, output)
        {
            Settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto),
            SearchOverridesPath = output + ".search.json",
        });

        SearchReport search = outcome.Report.Search!;
        Assert.Equal(SearchSettings.Size, search.Goal);
        SearchBudget budget = Assert.Single(search.Budget);
        Assert.Equal(("MaxAccuracyDrop", 1.0), (budget.Gate, budget.Limit));
        Assert.Contains("default", budget.Source, StringComparison.Ordinal);
        Assert.NotEmpty(search.Layers);
        IReadOnlyList<SearchCandidate> candidates = SearchCandidate.For(SearchSettings.Size, [SearchSettings.QuantizeTechnique, SearchSettings.PruneTechnique]);
        Assert.All(search.Layers, layer => Assert.Equal(candidates.Select(c => c.Name), layer.Candidates.Select(c => c.Candidate)));

        // The choice kept passed when verified, and the compression that followed wrote that very model and passed again.
        SearchTrial chosen = search.Trials[search.Chosen];
        Assert.True(chosen.Passed);
        Assert.Equal(chosen.Bytes, outcome.Report.Size.Compressed);
        Assert.Equal(chosen.ZippedBytes, outcome.Report.Size.ZippedCompressed);
        Assert.All(outcome.Report.Validation!.Gates, g => Assert.True(g.Passed, $"{g.Gate}: {g.Measured}"));
        Assert.True(outcome.Report.Validation.Accuracy!.Drop <= 1);
        Assert.All(search.Trials.Where(t => t.Kind == "uniform" && t.Passed), t => Assert.True(chosen.ZippedBytes <= t.ZippedBytes, $"{t.Label}: {t.ZippedBytes} < {chosen.ZippedBytes}"));
        Assert.All(search.Layers, l => Assert.Equal(chosen.Choice[l.Node], l.Chosen));
        // The floor, every searched layer left alone, is what the cells are counted against: here the original itself.
        SearchTrial floor = search.Floor!;
        Assert.True(floor.Passed);
        Assert.Equal(outcome.Report.Size.Original, floor.Bytes);
        Assert.All(floor.Choice.Values, c => Assert.Equal("none", c));
        Assert.True(chosen.ZippedBytes < floor.ZippedBytes / 4, $"chosen {chosen.ZippedBytes} bytes zipped, floor {floor.ZippedBytes}");

        // The same folder is ValidationData and CalibrationData: the budget was checked on the samples the refits fit.
        CompressionWarning judged = Assert.Single(outcome.Warnings, w => w.Code == DiagnosticCodes.SearchJudgedOnCalibration);
        Assert.Contains("also CalibrationData", judged.Message, StringComparison.Ordinal);

        // Smaller deployed than what the default settings give the same model.
        string plain = folder.File("plain", "digits.onnx");
        CompressionOutcome int8 = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, plain) { Settings = Labelled() });
        Assert.True(outcome.Report.Size.ZippedCompressed < int8.Report.Size.ZippedCompressed,
            $"search {outcome.Report.Size.ZippedCompressed} bytes zipped, int8 {int8.Report.Size.ZippedCompressed}");

        // The overrides file names every searched node, with the chosen values.
        Assert.Equal(search.Overrides, File.ReadAllText(output + ".search.json"));
        using JsonDocument overrides = JsonDocument.Parse(search.Overrides);
        Assert.Equal(search.Layers.Select(l => l.Node), overrides.RootElement.GetProperty("nodes").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void The_same_inputs_give_the_same_bytes_and_the_pinned_choice_gives_the_same_model()
    {
        CompressionSettings settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto);
        string first = folder.File("first", "digits.onnx"), second = folder.File("second", "digits.onnx");
        CompressionOutcome a = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, first) { Settings = settings, ReportPath = first + ".json", SearchOverridesPath = first + ".search.json" });
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, second) { Settings = settings, ReportPath = second + ".json" });

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        Assert.Equal(WithoutTiming(first + ".json"), WithoutTiming(second + ".json"));

        // Compress=manual with the search's overrides file: the same model, byte for byte.
        string pinned = folder.File("pinned", "digits.onnx");
        CompressionOutcome manual = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, pinned)
        {
            Settings = Labelled().Set(SettingsCatalog.Overrides, first + ".search.json"),
        });
        Assert.Null(manual.Report.Search);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(pinned));
        Assert.NotEmpty(a.Report.Search!.Trials);
    }

    [Fact]
    public void A_cell_measures_what_the_compression_of_that_single_layer_choice_measures()
    {
        // The cells share distillation's recordings and refits (int8 + prune 75% records what int8 + prune 50% recorded;
        // int4 + prune 50% refits what int8 + prune 50% refit): each must still be what compressing the model with that one
        // layer changed gives, which a manual compression through an overrides file does afresh.
        CompressionOutcome searched = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("cells", "digits.onnx"))
        {
            Settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto),
        });
        SearchReport search = searched.Report.Search!;
        IReadOnlyList<SearchLayer> layers = search.Layers.Select(l => new SearchLayer(l.Node, l.OpType, l.Weight, l.Shape)).ToList();
        IReadOnlyList<SearchCandidate> candidates = SearchCandidate.For(SearchSettings.Size, [SearchSettings.QuantizeTechnique, SearchSettings.PruneTechnique]);
        SearchLayerReport layer = search.Layers[1];
        Assert.Equal(0, search.Floor!.Damage);
        Directory.CreateDirectory(folder.File("single"));
        foreach (SensitivityEntry cell in layer.Candidates.Where(c => c.Candidate.Contains("prune", StringComparison.Ordinal) || c.Candidate == "int4"))
        {
            SearchCandidate candidate = candidates.Single(c => c.Name == cell.Candidate);
            string overrides = folder.File("single", FileName(cell.Candidate) + ".json");
            File.WriteAllText(overrides, BudgetSearch.OverridesText(layers, layers.ToDictionary(l => l.Node, l => l.Node == layer.Node ? candidate : SearchCandidate.None)));
            CompressionOutcome single = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("single", FileName(cell.Candidate) + ".onnx"))
            {
                Settings = Labelled().Set(SettingsCatalog.Overrides, overrides).Set(EvaluationSettings.MaxAccuracyDrop, 1.0)
                    .Set(EvaluationSettings.CompressionGate, EvaluationSettings.GateWarn),
            });

            Assert.Equal(cell.Damage, BudgetSearch.DamageOf(single.Report.Validation!));
            Assert.Equal(cell.Gates.Select(g => (g.Gate, g.Measured)), single.Report.Validation!.Gates.Select(g => (g.Gate, g.Measured)));
        }
    }

    [Fact]
    public void A_changed_budget_reuses_the_sensitivity_table_from_the_cache()
    {
        string cache = folder.File("cache");
        CompressionSettings settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto);
        CompressionOutcome loose = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("loose", "digits.onnx")) { Settings = settings, CacheDirectory = cache });
        string table = Assert.Single(Directory.GetFiles(cache, "search-*.json"));
        byte[] bytes = File.ReadAllBytes(table);
        DateTime written = File.GetLastWriteTimeUtc(table);

        CompressionOutcome tight = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("tight", "digits.onnx"))
        {
            Settings = settings.Set(EvaluationSettings.MaxAccuracyDrop, 0.5),
            CacheDirectory = cache,
        });

        Assert.False(tight.FromCache);
        Assert.Equal(table, Assert.Single(Directory.GetFiles(cache, "search-*.json")));
        Assert.Equal(bytes, File.ReadAllBytes(table));
        Assert.Equal(written, File.GetLastWriteTimeUtc(table));
        Assert.Equal(("MaxAccuracyDrop", 0.5), (tight.Report.Search!.Budget[0].Gate, tight.Report.Search.Budget[0].Limit));
        // The same table: every cell's figures as the first search measured them.
        Assert.Equal(
            loose.Report.Search!.Layers.SelectMany(l => l.Candidates).Select(c => (c.Candidate, c.ZippedAfter, c.Damage)),
            tight.Report.Search.Layers.SelectMany(l => l.Candidates).Select(c => (c.Candidate, c.ZippedAfter, c.Damage)));
        Assert.True(tight.Report.Search.Trials[tight.Report.Search.Chosen].Passed);
        Assert.True(tight.Report.Validation!.Accuracy!.Drop <= 0.5);
    }

    [Fact]
    public void Without_labels_the_default_budget_is_top1_agreement_and_the_choice_keeps_it()
    {
        string output = folder.File("unlabelled", "digits.onnx");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, output)
        {
            Settings = CompressionSettings.Default.Set(SearchSettings.Compress, SearchSettings.Auto).Set(EvaluationSettings.ValidationSamples, 16),
        });

        SearchBudget budget = Assert.Single(outcome.Report.Search!.Budget);
        Assert.Equal(("MinTop1Agreement", SearchSettings.DefaultTop1Agreement), (budget.Gate, budget.Limit));
        GateCheck gate = Assert.Single(outcome.Report.Validation!.Gates);
        Assert.DoesNotContain(outcome.Warnings, w => w.Code == DiagnosticCodes.SearchJudgedOnCalibration);
        Assert.True(gate.Passed && gate.Measured >= 99, $"top-1 agreement {gate.Measured}%");
    }

    [Fact]
    public void A_node_the_overrides_file_pins_is_left_out_of_the_search_and_keeps_its_settings()
    {
        string probe = folder.File("probe", "digits.onnx");
        CompressionOutcome first = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, probe)
        {
            Settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto).Set(SearchSettings.SearchTechniques, "quantize"),
        });
        string pinnedNode = first.Report.Search!.Layers[0].Node;
        string overrides = folder.File("pin.json");
        File.WriteAllText(overrides, "{\"nodes\": {" + JsonSerializer.Serialize(pinnedNode) + ": {\"Quantize\": \"fp16\"}}}");

        string output = folder.File("pinned", "digits.onnx");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, output)
        {
            Settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto).Set(SearchSettings.SearchTechniques, "quantize").Set(SettingsCatalog.Overrides, overrides),
        });

        Assert.DoesNotContain(outcome.Report.Search!.Layers, l => l.Node == pinnedNode);
        Assert.Equal(first.Report.Search.Layers.Count - 1, outcome.Report.Search.Layers.Count);
        Assert.Contains(outcome.Report.Changed, c => c.Nodes.Contains(pinnedNode) && c.Technique.Contains("fp16", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void A_time_limit_reached_is_warning_OCB0205_and_the_model_written_still_passes()
    {
        string output = folder.File("limited", "cnn.onnx");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsCnnModel, output)
        {
            Settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto).Set(SearchSettings.SearchTimeLimit, 1L),
        });

        Assert.True(outcome.Report.Search!.TimeLimitReached);
        CompressionWarning warning = Assert.Single(outcome.Warnings, w => w.Code == DiagnosticCodes.SearchTimeLimitReached);
        Assert.Contains("SearchTimeLimit=1 s", warning.Message, StringComparison.Ordinal);
        Assert.All(outcome.Report.Validation!.Gates, g => Assert.True(g.Passed));
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void Goal_latency_times_every_trial_and_keeps_a_choice_that_passes()
    {
        string output = folder.File("latency", "digits.onnx");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, output)
        {
            Settings = Labelled().Set(SearchSettings.Compress, SearchSettings.Auto).Set(SearchSettings.Goal, SearchSettings.Latency)
                .Set(SearchSettings.SearchTechniques, "quantize,prune,lowrank"),
        });

        SearchReport search = outcome.Report.Search!;
        Assert.Equal(SearchSettings.Latency, search.Goal);
        Assert.Contains(search.Candidates, c => c.StartsWith("prune channels", StringComparison.Ordinal));
        Assert.All(search.Layers.SelectMany(l => l.Candidates).Where(c => c.Failed is null), c => Assert.True(c.LatencyMs > 0));
        Assert.All(search.Trials, t => Assert.True(t.LatencyMs > 0));
        Assert.True(search.Floor!.LatencyMs > 0);
        Assert.All(outcome.Report.Validation!.Gates, g => Assert.True(g.Passed));
    }

    [Fact]
    public void Validation_off_refuses_a_search_with_OCB0011()
    {
        CompressionException error = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(
            new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("off", "digits.onnx"))
            {
                Settings = CompressionSettings.Default.Set(SearchSettings.Compress, SearchSettings.Auto).Set(EvaluationSettings.Validate, false),
            }));

        Assert.Equal(DiagnosticCodes.SearchNotPossible, error.Code);
        Assert.Contains("Validate=false", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("off", "digits.onnx")));
    }

    [Theory]
    [InlineData("quantize", "quantize")]
    [InlineData("prune;quantize", "quantize,prune")]
    [InlineData(" Cluster , lowrank ", "lowrank,cluster")]
    public void SearchTechniques_reads_a_list_in_any_order(string text, string expected) =>
        Assert.Equal(expected, SearchSettings.SearchTechniques.Parse(text));

    [Theory]
    [InlineData("quantise")]
    [InlineData("quantize,quantize")]
    [InlineData(",")]
    public void SearchTechniques_refuses_unknown_or_repeated_names(string text)
    {
        CompressionException error = Assert.Throws<CompressionException>(() => SettingsResolver.Resolve(
            CompressionSettings.Default.Set(SearchSettings.SearchTechniques, text, new SettingOrigin(SettingLevel.Model, "metadata SearchTechniques")), "model.onnx"));
        Assert.Equal(DiagnosticCodes.InvalidSetting, error.Code);
        Assert.Contains("quantize, prune, lowrank, cluster, or a list of them", error.Message, StringComparison.Ordinal);
    }

    private static string FileName(string candidate) => string.Concat(candidate.Where(char.IsAsciiLetterOrDigit));

    private static string WithoutTiming(string reportPath) =>
        (CompressionReport.FromJson(File.ReadAllText(reportPath)) with { Timing = null }).ToJson();

    /// <summary>The first half of the labelled test split, as validation and calibration samples.</summary>
    private CompressionSettings Labelled()
    {
        string samples = Samples("search", 0, 180);
        return CompressionSettings.Default
            .Set(EvaluationSettings.ValidationData, samples)
            .Set(EvaluationSettings.CalibrationData, samples);
    }

    private string Samples(string name, int first, int rows)
    {
        string data = folder.File(name);
        if (Directory.Exists(data))
        {
            return data;
        }

        DigitsTestSet testSet = DigitsTestSet.Load();
        return testSet.WriteSamples(data, first, rows);
    }
}
