using System.Diagnostics;
using System.Globalization;
using Compression.Core;
using Compression.Core.Evaluation;
using Compression.Core.Reporting;
using Compression.Core.Runtime;
using Compression.Core.Search;
using Compression.Core.Settings;
using Compression.Onnx;

namespace Compression.Benchmarks;

/// <summary>
/// The budget search (<c>--search</c>, <c>Compress=auto</c>, <c>Goal=size</c>, the default SearchTechniques) on the
/// digits MLP and CNN (labelled, MaxAccuracyDrop 0.5 and 1 point) and the transformer encoder (MinTop1Agreement 99.5 and
/// 99%): the size the search reaches against the best uniform setting within the same budget, the figure each reaches on
/// held-back samples the search never saw, and the search's time, with one compression cache folder per model so that the
/// second budget reuses the sensitivity table of the first.
/// <para>
/// The uniform baseline: every candidate of <see cref="SearchCandidate.For"/> applied alone, with <c>Compress=manual</c>,
/// to exactly the layers the search chose for (an overrides file with one node entry each, as the search's own uniform
/// trials do), so that every other tensor is compressed as in the search's model (the model-level settings: int8 where it
/// applies); then judged with the same gate on the same search samples. The smallest deployed (zipped) one that passes is
/// the baseline.
/// </para>
/// </summary>
internal static class SearchBenchmark
{
    /// <summary>Digits rows the search sees (validation and calibration); the rest of the 360 are held back.</summary>
    private const int SearchRows = 180;

    /// <summary>Seeded embedding inputs of the transformer for the search, and as many held back.</summary>
    private const int TransformerSamples = 8;

    private static readonly SettingOrigin Origin = new(SettingLevel.Model, "the search benchmark");

    public static IReadOnlyList<string> Models { get; } = [BenchModels.DigitsMlp, BenchModels.DigitsCnn, BenchModels.Transformer];

    public static int Run(BenchmarkOptions options)
    {
        string root = BenchModels.RepositoryRoot();
        string work = Path.Combine(AppContext.BaseDirectory, "search-work");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        var clock = Stopwatch.StartNew();
        IReadOnlyList<string> techniques = SearchSettings.TechniquesOf(SearchSettings.SearchTechniques.Default);
        IReadOnlyList<SearchCandidate> candidates = SearchCandidate.For(SearchSettings.Size, techniques);
        Console.WriteLine($"ONNX Runtime {OnnxRuntimeLibrary.Version}; .NET {Environment.Version}, {Environment.ProcessorCount} logical processors, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine($"Compress=auto, Goal=size, SearchTechniques={string.Join(",", techniques)}: {candidates.Count} candidates per layer ({string.Join(", ", candidates.Select(c => c.Name))}).");
        IReadOnlySet<string> models = options.ModelsGiven ? options.Models : new HashSet<string>(Models, StringComparer.Ordinal);
        foreach (string skipped in models.Where(m => !Models.Contains(m)))
        {
            Console.WriteLine($"{skipped}: not part of --search (it benches {string.Join(", ", Models)}).");
        }

        Console.WriteLine();
        var results = new List<BudgetResult>();
        DigitsTestSet digits = DigitsTestSet.Load(Path.Combine(root, "samples", "Digits", "Data", "digits-test.csv"));
        foreach ((string name, string path) in new[]
        {
            (BenchModels.DigitsMlp, Path.Combine(root, "samples", "Digits", "Models", "digits.onnx")),
            (BenchModels.DigitsCnn, Path.Combine(root, "bench", "models", "digits_cnn.onnx")),
        })
        {
            if (models.Contains(name))
            {
                string folder = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
                results.AddRange(RunModel(DigitsSubject(name, path, digits, folder), candidates, options.SearchTimeLimit, folder));
            }
        }

        if (models.Contains(BenchModels.Transformer))
        {
            string folder = Directory.CreateDirectory(Path.Combine(work, BenchModels.Transformer)).FullName;
            results.AddRange(RunModel(TransformerSubject(folder), candidates, options.SearchTimeLimit, folder));
        }

        PrintSummary(results);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Benchmark run time: {clock.Elapsed.TotalSeconds:F0} s."));
        return 0;
    }

    /// <summary>A digits model: the first 180 test rows are the search's samples (pixels.npy, labels.npy), the last 180 held back.</summary>
    private static Subject DigitsSubject(string name, string path, DigitsTestSet digits, string folder)
    {
        string samples = Directory.CreateDirectory(Path.Combine(folder, "search-samples")).FullName;
        Compression.Testing.NumPyWriter.Write<float>(Path.Combine(samples, "pixels.npy"), digits.Images.AsSpan(0, SearchRows * DigitsTestSet.Pixels), SearchRows, DigitsTestSet.Pixels);
        Compression.Testing.NumPyWriter.Write<long>(Path.Combine(samples, "labels.npy"), digits.Labels.Take(SearchRows).Select(l => (long)l).ToArray(), SearchRows);
        int heldBack = digits.Count - SearchRows;
        var images = new OnnxTensor<float>(digits.Images.AsSpan(SearchRows * DigitsTestSet.Pixels).ToArray(), [heldBack, DigitsTestSet.Pixels]);
        return new Subject(name, path, samples, EvaluationSettings.MaxAccuracyDrop, [0.5, 1],
            $"accuracy on the held-back test rows {SearchRows}..{digits.Count - 1}",
            (model, config) =>
            {
                using var session = new OnnxSession(model, Options(config));
                ReadOnlySpan<float> logits = session.Run(["pixels"], [images], ["logits"])[0].As<float>().Span;
                int correct = 0;
                for (int i = 0; i < heldBack; i++)
                {
                    correct += ArgMax(logits.Slice(i * 10, 10)) == digits.Labels[SearchRows + i] ? 1 : 0;
                }

                return string.Create(CultureInfo.InvariantCulture, $"{100.0 * correct / heldBack:F2}%");
            });
    }

    /// <summary>
    /// The transformer encoder (embeddings in, [1, 128, 512] out), top-1 agreement budgets: the search sees 8 seeded N(0, 1)
    /// embedding inputs (embeddings.npy, [8, 128, 512], run one at a time as the input's batch is 1), the held-back figure is
    /// the top-1 agreement with the original over 8 other seeded inputs (1,024 rows of 512 scores).
    /// </summary>
    private static Subject TransformerSubject(string folder)
    {
        string path = Path.Combine(folder, "transformer.onnx");
        OnnxModelFile.Save(TransformerModel.Build(), path);
        const int Row = TransformerModel.Sequence * TransformerModel.Hidden;
        string samples = Directory.CreateDirectory(Path.Combine(folder, "search-samples")).FullName;
        Compression.Testing.NumPyWriter.Write<float>(Path.Combine(samples, TransformerModel.InputName + ".npy"), new GraphWriter(1).NormalValues((long)TransformerSamples * Row, 1),
            TransformerSamples, TransformerModel.Sequence, TransformerModel.Hidden);
        float[] held = new GraphWriter(2).NormalValues((long)TransformerSamples * Row, 1);
        OnnxTensor[] inputs = Enumerable.Range(0, TransformerSamples)
            .Select(i => (OnnxTensor)new OnnxTensor<float>(held.AsSpan(i * Row, Row).ToArray(), [TransformerModel.Batch, TransformerModel.Sequence, TransformerModel.Hidden])).ToArray();
        float[][]? reference = null;
        return new Subject(BenchModels.Transformer, path, samples, EvaluationSettings.MinTop1Agreement, [99.5, 99],
            $"top-1 agreement with the original on {TransformerSamples * TransformerModel.Sequence:N0} held-back rows (another {TransformerSamples} seeded inputs)",
            (model, config) =>
            {
                using var session = new OnnxSession(model, Options(config));
                float[][] outputs = inputs.Select(input => session.Run([TransformerModel.InputName], [input], ["encoded"])[0].As<float>().Span.ToArray()).ToArray();
                reference ??= outputs;
                long agree = 0, rows = 0;
                for (int s = 0; s < outputs.Length; s++)
                {
                    for (int start = 0; start < outputs[s].Length; start += TransformerModel.Hidden)
                    {
                        rows++;
                        agree += ArgMax(outputs[s].AsSpan(start, TransformerModel.Hidden)) == ArgMax(reference[s].AsSpan(start, TransformerModel.Hidden)) ? 1 : 0;
                    }
                }

                return string.Create(CultureInfo.InvariantCulture, $"{100.0 * agree / rows:F2}%");
            })
        {
            ProbeTrial = true,
        };
    }

    private static IEnumerable<BudgetResult> RunModel(Subject subject, IReadOnlyList<SearchCandidate> candidates, int? timeLimit, string folder)
    {
        Console.Error.WriteLine($"[{subject.Name}] {subject.Path}");
        string originalHeld = subject.HeldBack(subject.Path, new Dictionary<string, string>());
        CompressionSettings common = CompressionSettings.Default
            .Set(EvaluationSettings.ValidationData, subject.Samples, Origin)
            .Set(EvaluationSettings.CalibrationData, subject.Samples, Origin)
            // A search whose choice misses its gate, which it should never keep, is written and marked here rather than thrown.
            .Set(EvaluationSettings.CompressionGate, EvaluationSettings.GateWarn, Origin);

        long limit = timeLimit ?? SearchSettings.SearchTimeLimit.Default;
        string? probe = null;
        if (subject.ProbeTrial && timeLimit is null)
        {
            (limit, probe) = ProbeTimeLimit(subject, common, candidates, folder);
        }

        // The searches, the smaller budget first: the second reads the sensitivity table the first stored in the cache folder.
        string cache = Directory.CreateDirectory(Path.Combine(folder, "cache")).FullName;
        var searches = new List<SearchRun>();
        foreach (double budget in subject.Budgets)
        {
            string label = Number(budget);
            Console.Error.WriteLine($"[{subject.Name}] Compress=auto, {subject.Gate.Name}={label}, SearchTimeLimit={limit} s ...");
            bool tableCached = Directory.EnumerateFiles(cache, "search-*.json").Any();
            string output = Path.Combine(folder, $"search-{label}", "model.onnx");
            CompressionSettings settings = common
                .Set(SearchSettings.Compress, SearchSettings.Auto, Origin)
                .Set(subject.Gate, label, Origin)
                .Set(SearchSettings.SearchTimeLimit, limit.ToString(CultureInfo.InvariantCulture), Origin);
            var wall = Stopwatch.StartNew();
            CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(subject.Path, output)
            {
                Settings = settings,
                ReportPath = output + ".report.json",
                SearchOverridesPath = output + ".overrides.json",
                CacheDirectory = cache,
            });
            double seconds = wall.Elapsed.TotalSeconds;
            CompressionReport report = outcome.Report;
            SearchReport search = report.Search ?? throw new InvalidOperationException("Compress=auto wrote no search report.");
            IReadOnlyList<GateCheck> gates = Evaluator.CheckGates(report.Validation!, SettingsResolver.Resolve(settings, subject.Path), subject.Path);
            searches.Add(new SearchRun(budget, report, gates.Single(), seconds, Phase(report, "search"), tableCached,
                subject.HeldBack(output, outcome.Signature.SessionConfig), outcome.Warnings.Select(w => w.Code).ToList()));
        }

        // The uniform settings, once: one candidate on every layer the search chose for, judged below against each budget.
        IReadOnlyList<SearchLayer> layers = searches[0].Report.Search!.Layers.Select(l => new SearchLayer(l.Node, l.OpType, l.Weight, l.Shape)).ToList();
        var uniforms = new List<UniformRun>();
        foreach (SearchCandidate candidate in candidates)
        {
            Console.Error.WriteLine($"[{subject.Name}] uniform {candidate.Name} (Compress=manual) ...");
            string output = Path.Combine(folder, "uniform-" + FileName(candidate.Name), "model.onnx");
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            string overrides = output + ".overrides.json";
            File.WriteAllText(overrides, BudgetSearch.OverridesText(layers, layers.ToDictionary(l => l.Node, l => candidate.AppliesTo(l.OpType) ? candidate : SearchCandidate.None)));
            CompressionSettings settings = common.Set(SettingsCatalog.Overrides, overrides, Origin);
            try
            {
                CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(subject.Path, output) { Settings = settings, ReportPath = output + ".report.json" });
                uniforms.Add(new UniformRun(candidate.Name, outcome.Report, subject.HeldBack(output, outcome.Signature.SessionConfig), null));
            }
            catch (CompressionException e)
            {
                uniforms.Add(new UniformRun(candidate.Name, null, "", $"{e.Code}: {FirstLine(e.Message)}"));
            }
        }

        CompressionReport first = searches[0].Report;
        Console.WriteLine($"### {subject.Name}: {subject.Gate.Name} {string.Join(" and ", subject.Budgets.Select(Number))}");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Original: {first.Size.Original:N0} bytes, {first.Size.ZippedOriginal:N0} zipped; {subject.HeldBackName}: {originalHeld}. " +
            $"The search chose for {layers.Count} layers ({string.Join(", ", layers.GroupBy(l => l.OpType).Select(g => $"{g.Count()} {g.Key}"))}); " +
            $"{LeftAlone(subject.Path, layers)}."));
        if (probe is not null)
        {
            Console.WriteLine(probe);
        }

        Console.WriteLine();
        PrintUniforms(subject, uniforms, searches);
        var results = new List<BudgetResult>();
        foreach (SearchRun run in searches)
        {
            UniformRun? baseline = uniforms
                .Where(u => u.Report is not null && Gate(u, subject, run.Budget).Passed)
                .OrderBy(u => u.Report!.Size.ZippedCompressed).ThenBy(u => u.Report!.Size.Compressed).FirstOrDefault();
            results.Add(new BudgetResult(subject, run, baseline, originalHeld));
        }

        PrintSearches(subject, results);
        return results;
    }

    /// <summary>
    /// The transformer's time limit: one layer-candidate trial timed first (the first searched layer at int8 + prune 50%,
    /// as a manual compression with validation: its compress and validate phases are what a trial costs), then the limit
    /// set to twice the estimated scoring (every layer with every candidate) and verification (up to 16 trials), rounded up to
    /// a minute.
    /// </summary>
    private static (long Limit, string Line) ProbeTimeLimit(Subject subject, CompressionSettings common, IReadOnlyList<SearchCandidate> candidates, string folder)
    {
        var model = Compression.Core.Ir.Model.FromProto(OnnxModelFile.Load(subject.Path), subject.Path);
        IReadOnlyList<SearchLayer> layers = SearchLayer.Find(model, SettingsResolver.Resolve(common, subject.Path));
        SearchCandidate candidate = candidates.First(c => !double.IsNaN(c.Prune));
        string output = Path.Combine(folder, "probe", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string overrides = output + ".overrides.json";
        File.WriteAllText(overrides, BudgetSearch.OverridesText(layers, layers.ToDictionary(l => l.Node, l => l == layers[0] ? candidate : SearchCandidate.None)));
        Console.Error.WriteLine($"[{subject.Name}] timing one trial: {layers[0].Node} at {candidate.Name} ...");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(subject.Path, output)
        {
            Settings = common.Set(SettingsCatalog.Overrides, overrides, Origin),
        });
        double trial = (Phase(outcome.Report, "compress") + Phase(outcome.Report, "validate")) / 1000.0;
        int cells = layers.Sum(l => candidates.Count(c => c.AppliesTo(l.OpType)));
        double estimate = (cells + 1 + 16) * trial;
        long limit = Math.Clamp((long)Math.Ceiling(2 * estimate / 60) * 60, SearchSettings.SearchTimeLimit.Default, 86_400);
        return (limit, string.Create(CultureInfo.InvariantCulture,
            $"One layer-candidate trial ({layers[0].Node} at {candidate.Name}: compress and validate) took {trial:F1} s; {cells} layer candidates, a floor and up to 16 verified choices " +
            $"make about {estimate / 60:F1} min, so SearchTimeLimit={limit} s (twice that, rounded up to a minute)."));
    }

    private static void PrintUniforms(Subject subject, IReadOnlyList<UniformRun> uniforms, IReadOnlyList<SearchRun> searches)
    {
        Console.WriteLine($"Each candidate on every searched layer (Compress=manual, node entries in an overrides file; the other tensors at the model-level defaults, as in the search's model), judged on the search samples:");
        Console.WriteLine();
        Console.WriteLine($"| uniform setting | file bytes | zipped bytes | {GateHeading(subject.Gate)} on the search samples | " + string.Join(" | ", searches.Select(s => $"within {Number(s.Budget)}")) + $" | {subject.HeldBackName} |");
        Console.WriteLine("|---|---:|---:|---:|" + string.Concat(searches.Select(_ => "---|")) + "---:|");
        foreach (UniformRun u in uniforms)
        {
            if (u.Report is null)
            {
                Console.WriteLine($"| {u.Name} | failed: {u.Error} | | |" + string.Concat(searches.Select(_ => " |")) + " |");
                continue;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {u.Name} | {u.Report.Size.Compressed:N0} | {u.Report.Size.ZippedCompressed:N0} | {GateValue(subject.Gate, Gate(u, subject, searches[0].Budget).Measured)} | ") +
                string.Join(" | ", searches.Select(s => Gate(u, subject, s.Budget).Passed ? "yes" : "no")) + $" | {u.HeldBack} |");
        }

        Console.WriteLine();
    }

    private static void PrintSearches(Subject subject, IReadOnlyList<BudgetResult> results)
    {
        Console.WriteLine($"| budget | search: zipped bytes (file) | {GateHeading(subject.Gate)} on the search samples | best uniform within the budget: zipped (file) | search / uniform, zipped | {subject.HeldBackName}: original, search, uniform | search s (phase; wall) | sensitivity table | trials | chosen per layer |");
        Console.WriteLine("|---|---:|---:|---|---:|---|---:|---|---:|---|");
        foreach (BudgetResult r in results)
        {
            SearchRun s = r.Search;
            SearchReport search = s.Report.Search!;
            string limit = search.TimeLimitReached ? " **SearchTimeLimit reached (OCB0205)**" : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {subject.Gate.Name} {Number(s.Budget)} | {s.Report.Size.ZippedCompressed:N0} ({s.Report.Size.Compressed:N0}) | {GateValue(subject.Gate, s.Gate.Measured)}{(s.Gate.Passed ? "" : " **missed**")} | " +
                $"{(r.Uniform is { } u ? $"{u.Name}: {u.Report!.Size.ZippedCompressed:N0} ({u.Report.Size.Compressed:N0})" : "none passes")} | {Ratio(r)} | " +
                $"{r.OriginalHeldBack}, {s.HeldBack}, {r.Uniform?.HeldBack ?? "-"} | {s.SearchMilliseconds / 1000.0:F1}; {s.WallSeconds:F1} | {(s.TableCached ? "from the cache" : "scored")}{limit} | " +
                $"{search.Trials.Count(t => t.Kind == "path")} path + {search.Trials.Count(t => t.Kind == "uniform")} uniform | {Mix(search)} |"));
        }

        Console.WriteLine();
        foreach (BudgetResult r in results)
        {
            SearchReport search = r.Search.Report.Search!;
            string kept = search.Chosen < 0 ? "nothing (every layer left as it was)" : $"{search.Trials[search.Chosen].Label}";
            var tried = search.Trials.Where(t => t.Kind == "uniform").ToList();
            string own = search.BestUniform >= 0 ? $"its best uniform trial: {search.Trials[search.BestUniform].Label}, {search.Trials[search.BestUniform].ZippedBytes:N0} zipped"
                : tried.Count == 0 ? "it verified no uniform choice (its table predicted none smaller than the choice kept)"
                : $"the uniform choices it verified missed the budget ({string.Join(", ", tried.Select(t => t.Label))})";
            Console.WriteLine($"- {subject.Gate.Name} {Number(r.Search.Budget)}: kept {kept}; {own}." +
                (r.Search.Warnings.Count > 0 ? $" Warnings: {string.Join(", ", r.Search.Warnings)}." : ""));
        }

        Console.WriteLine();
    }

    private static void PrintSummary(IReadOnlyList<BudgetResult> results)
    {
        if (results.Count == 0)
        {
            return;
        }

        Console.WriteLine("### Summary: the search against the best uniform setting within the same budget");
        Console.WriteLine();
        Console.WriteLine("| model | budget | search zipped | uniform zipped (setting) | search / uniform | held back: original, search, uniform | search s (phase) | table |");
        Console.WriteLine("|---|---|---:|---:|---:|---|---:|---|");
        foreach (BudgetResult r in results)
        {
            SearchRun s = r.Search;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Subject.Name} | {r.Subject.Gate.Name} {Number(s.Budget)} | {s.Report.Size.ZippedCompressed:N0} | {(r.Uniform is { } u ? $"{u.Report!.Size.ZippedCompressed:N0} ({u.Name})" : "none passes")} | {Ratio(r)} | " +
                $"{r.OriginalHeldBack}, {s.HeldBack}, {r.Uniform?.HeldBack ?? "-"} | {s.SearchMilliseconds / 1000.0:F1}{(s.Report.Search!.TimeLimitReached ? " (limit reached)" : "")} | {(s.TableCached ? "from the cache" : "scored")} |"));
        }

        Console.WriteLine();
    }

    /// <summary>The search's zipped size over the baseline's; marked when it is not below 1.</summary>
    private static string Ratio(BudgetResult r)
    {
        if (r.Uniform is null)
        {
            return "-";
        }

        double ratio = (double)r.Search.Report.Size.ZippedCompressed!.Value / r.Uniform.Report!.Size.ZippedCompressed!.Value;
        string text = ratio.ToString("F3", CultureInfo.InvariantCulture);
        return ratio < 1 ? text : $"**{text} (not smaller)**";
    }

    /// <summary>
    /// The weight layers of the model the search did not choose for (MatMul, Gemm, Conv with a constant weight, Gather
    /// reading a table), with their element count, read from the model: the search report lists only the layers it chose for.
    /// </summary>
    private static string LeftAlone(string path, IReadOnlyList<SearchLayer> layers)
    {
        var searched = layers.Select(l => l.Node).ToHashSet(StringComparer.Ordinal);
        Compression.Onnx.Protos.ModelProto model = OnnxModelFile.Load(path);
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var left = new List<string>();
        foreach (Compression.Onnx.Protos.NodeProto node in model.Graph.Node)
        {
            int index = node.OpType switch { "MatMul" or "Gemm" or "Conv" => 1, "Gather" => 0, _ => -1 };
            if (index >= 0 && node.Input.Count > index && initializers.TryGetValue(node.Input[index], out Compression.Onnx.Protos.TensorProto? weight) && !searched.Contains(node.Name))
            {
                long elements = weight.Dims.Aggregate(1L, (a, d) => a * d);
                left.Add(string.Create(CultureInfo.InvariantCulture, $"{(node.Name.Length > 0 ? node.Name : "an unnamed " + node.OpType)} ({weight.Name}, {elements:N0} elements)"));
            }
        }

        return left.Count == 0 ? "every weight layer is among them"
            : $"it left {string.Join(", ", left)} alone, at the model-level defaults in the search's model and the uniform ones alike";
    }

    /// <summary>The chosen candidates, counted: <c>int4 x3, int8 + prune 90% x1</c>.</summary>
    private static string Mix(SearchReport search) =>
        string.Join(", ", search.Layers.GroupBy(l => l.Chosen).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"));

    private static GateCheck Gate(UniformRun u, Subject subject, double budget)
    {
        CompressionSettings settings = CompressionSettings.Default.Set(subject.Gate, Number(budget), Origin);
        return Evaluator.CheckGates(u.Report!.Validation!, SettingsResolver.Resolve(settings, subject.Path), subject.Path).Single();
    }

    private static string GateHeading(NumberSetting gate) => gate == EvaluationSettings.MaxAccuracyDrop ? "accuracy drop" : "top-1 agreement";

    private static string GateValue(NumberSetting gate, double measured) => gate == EvaluationSettings.MaxAccuracyDrop
        ? measured.ToString("F2", CultureInfo.InvariantCulture) + " points"
        : measured.ToString("F2", CultureInfo.InvariantCulture) + "%";

    private static long Phase(CompressionReport report, string name) => report.Timing?.Phases.Where(p => p.Name == name).Sum(p => p.DurationMilliseconds) ?? 0;

    private static OnnxSessionOptions Options(IReadOnlyDictionary<string, string> config)
    {
        var options = new OnnxSessionOptions { IntraOpThreads = 1 };
        foreach (KeyValuePair<string, string> entry in config)
        {
            options.ConfigEntries[entry.Key] = entry.Value;
        }

        return options;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }

    private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()?.Replace("|", "/", StringComparison.Ordinal) ?? "";

    private static string FileName(string name) =>
        new string(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Replace("--", "-", StringComparison.Ordinal).Trim('-');

    /// <summary>A model of the benchmark: its samples, its gate and budgets, and its figure on the held-back samples.</summary>
    private sealed record Subject(string Name, string Path, string Samples, NumberSetting Gate, double[] Budgets, string HeldBackName,
        Func<string, IReadOnlyDictionary<string, string>, string> HeldBack)
    {
        /// <summary>Time one layer-candidate trial first and set SearchTimeLimit from it.</summary>
        public bool ProbeTrial { get; init; }
    }

    private sealed record SearchRun(double Budget, CompressionReport Report, GateCheck Gate, double WallSeconds, long SearchMilliseconds, bool TableCached, string HeldBack, IReadOnlyList<string> Warnings);

    private sealed record UniformRun(string Name, CompressionReport? Report, string HeldBack, string? Error);

    private sealed record BudgetResult(Subject Subject, SearchRun Search, UniformRun? Uniform, string OriginalHeldBack);
}
