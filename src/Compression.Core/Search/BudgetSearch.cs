using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Core.Passes;
using Compression.Core.Passes.Distillation;
using Compression.Core.Reporting;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Search;

/// <summary>What the budget search works on.</summary>
/// <param name="Model">The original as the passes see it (raised at load where it had to be), every weight in memory.</param>
/// <param name="ModelPath">The original's path.</param>
/// <param name="ExternalFiles">Its external data files (for the table's cache key).</param>
/// <param name="Settings">The model's resolved settings.</param>
/// <param name="Evaluator">The evaluator, holding the original's outputs on the validation samples.</param>
/// <param name="Runner">Where ONNX Runtime runs.</param>
/// <param name="Calibration">The calibration samples, read once for every trial.</param>
public sealed record SearchInputs(ModelProto Model, string ModelPath, IReadOnlyList<string> ExternalFiles, ResolvedSettings Settings, Evaluator Evaluator, ModelRunner Runner,
    Func<SampleSet?> Calibration)
{
    /// <summary>The opset raise made at load, passed on to the passes.</summary>
    public OpsetChange? OpsetRaisedAtLoad { get; init; }

    /// <summary>The compression cache folder, where the sensitivity table is kept; none when null.</summary>
    public string? CacheDirectory { get; init; }
}

/// <summary>What the search chose.</summary>
/// <param name="Settings">The model's settings with the chosen per-layer values (and the default budget, when none was set).</param>
/// <param name="Report">What the search did.</param>
/// <param name="Warnings">Its warnings (the time limit; the cache's are kept out of the report).</param>
/// <param name="TableFromCache">True when the sensitivity table came from the cache.</param>
public sealed record SearchOutcome(ResolvedSettings Settings, SearchReport Report, IReadOnlyList<CompressionWarning> Warnings, bool TableFromCache);

/// <summary>
/// <c>Compress=auto</c>: finds per-layer settings that make the model as small (or fast) as possible within the gates.
/// Sensitivity first: each layer is compressed alone with each candidate and scored by the evaluator (its outputs' relative
/// squared error, its bytes or run time, and whether it alone passes the budget); the table is kept in the compression
/// cache. Then the per-layer choices along the table's Lagrangian path (<see cref="CandidateSelection"/>) are verified by
/// bisection: the most compressed one whose combined model passes the gates is kept. One candidate on every layer (the
/// best uniform setting) is verified too where the table says it could be smaller, so that the search never ends above it.
/// Every trial runs the passes as the compression does, with one ONNX Runtime thread: the same inputs give the same choice.
/// </summary>
public static class BudgetSearch
{
    /// <summary>How the search's values are named in the report and in messages.</summary>
    public const string OriginDescription = "the budget search (Compress=auto)";

    private const int TimedRuns = 5;

    /// <summary>Settings left out of the sensitivity table's cache key: the budget and the time limits.</summary>
    private static readonly HashSet<string> BudgetSettings = new(StringComparer.Ordinal)
    {
        EvaluationSettings.MaxAccuracyDrop.Name, EvaluationSettings.MinCosineSimilarity.Name, EvaluationSettings.MinTop1Agreement.Name,
        EvaluationSettings.MaxOutputError.Name, EvaluationSettings.CompressionGate.Name, EvaluationSettings.ValidationTimeout.Name,
        SearchSettings.SearchTimeLimit.Name,
    };

    /// <summary>Runs the search.</summary>
    /// <exception cref="CompressionException">A trial failed in ONNX Runtime (OCB0102, OCB0105, OCB0106), or the settings do not fit (OCB0003).</exception>
    public static SearchOutcome Run(SearchInputs inputs, List<CompressionWarning> cacheWarnings, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = TimeSpan.FromSeconds(inputs.Settings.Get(SearchSettings.SearchTimeLimit));
        string goal = inputs.Settings.Get(SearchSettings.Goal);
        IReadOnlyList<string> techniques = SearchSettings.TechniquesOf(inputs.Settings.Get(SearchSettings.SearchTechniques));
        IReadOnlyList<SearchCandidate> candidates = SearchCandidate.For(goal, techniques);
        IReadOnlyList<SearchLayer> layers = SearchLayer.Find(Model.FromProto(inputs.Model.Clone(), inputs.ModelPath), inputs.Settings);
        var trials = new Trials(inputs, goal == SearchSettings.Latency, cancellationToken);

        // The floor: every searched layer left alone (the rest as the settings say). Its outputs decide the default budget,
        // its tensors are what each candidate's bytes are counted against, and its damage is taken off each layer's.
        Trial floor = trials.Run(layers.ToDictionary(l => l.Node, _ => SearchCandidate.None), inputs.Settings);
        (ResolvedSettings settings, IReadOnlyList<SearchBudget> budget) = WithBudget(inputs.Settings, floor.Validation);
        trials.Floor = floor;

        bool timeLimitReached = false;
        string key = CompressionCache.ComputeSearchKey(inputs.ModelPath, inputs.ExternalFiles, inputs.Settings, name => !BudgetSettings.Contains(name));
        // The table a search of this model and settings kept (complete, or as far as its time limit let it go) is resumed:
        // only the cells it lacks are scored. The quantization-only candidates are scored candidate by candidate over every
        // layer, so that a table the time limit cuts short still offers every layer the first candidates; the others (pruning,
        // low-rank, clustering: the distilled ones, seconds a cell) layer by layer, so that the layer's recording and refits,
        // the same in each of its cells, are made once and the cache holds one layer's at a time.
        IReadOnlyList<TableRow>? stored = TableCache.Read(inputs.CacheDirectory, key, layers, candidates, cacheWarnings);
        var known = new Dictionary<(string Node, string Candidate), TableCell>();
        foreach (TableRow row in stored ?? [])
        {
            foreach (TableCell cell in row.Cells)
            {
                known[(row.Node, cell.Candidate)] = cell;
            }
        }

        int scored = 0;
        IEnumerable<(SearchLayer Layer, SearchCandidate Candidate)> order =
            candidates.Where(c => c.QuantizesOnly).SelectMany(c => layers.Select(l => (l, c)))
                .Concat(layers.SelectMany(l => candidates.Where(c => !c.QuantizesOnly).Select(c => (l, c))));
        SearchLayer? recorded = null;
        foreach ((SearchLayer layer, SearchCandidate candidate) in order.Where(p => p.Candidate.AppliesTo(p.Layer.OpType) && !known.ContainsKey((p.Layer.Node, p.Candidate.Name))))
        {
            if (clock.Elapsed > limit)
            {
                timeLimitReached = true;
                break;
            }

            if (recorded != layer)
            {
                trials.Distillation.Clear();
                recorded = layer;
            }

            var choice = layers.ToDictionary(l => l.Node, l => l == layer ? candidate : SearchCandidate.None);
            known[(layer.Node, candidate.Name)] = trials.Cell(layer, candidate, choice, settings);
            scored++;
        }

        trials.Distillation.Clear();

        IReadOnlyList<TableRow> table = layers.Select(layer => new TableRow(layer.Node,
            candidates.Where(c => known.ContainsKey((layer.Node, c.Name))).Select(c => known[(layer.Node, c.Name)]).ToList())).ToList();
        bool fromCache = scored == 0;
        if (scored > 0)
        {
            TableCache.Write(inputs.CacheDirectory, key, table, cacheWarnings);
        }

        // Whether each cell passes alone depends on the budget, which the cached table does not hold: judged again here.
        var hulls = new List<IReadOnlyList<(LayerOption Option, SearchCandidate Candidate)>>();
        for (int l = 0; l < layers.Count; l++)
        {
            var options = new List<(LayerOption, SearchCandidate)> { (new LayerOption(-1, 0, 0), SearchCandidate.None) };
            foreach (TableCell cell in table[l].Cells.Where(c => c.Failed is null && Passes(c.Validation!, settings, inputs.ModelPath)))
            {
                SearchCandidate candidate = candidates.First(c => c.Name == cell.Candidate);
                double cost = goal == SearchSettings.Latency ? cell.LatencyMs!.Value - floor.LatencyMs!.Value : cell.ZippedAfter - cell.ZippedBefore;
                options.Add((new LayerOption(IndexOf(candidates, candidate), cost, Math.Max(0, cell.Damage - floor.Damage)), candidate));
            }

            IReadOnlyList<LayerOption> hull = CandidateSelection.Hull(options.Select(o => o.Item1));
            hulls.Add(hull.Select(h => options.First(o => o.Item1 == h)).ToList());
        }

        IReadOnlyList<IReadOnlyList<LayerOption>> optionHulls = hulls.Select(h => (IReadOnlyList<LayerOption>)h.Select(o => o.Option).ToList()).ToList();
        IReadOnlyList<int[]> path = CandidateSelection.Path(optionHulls);
        var verified = new List<(SearchTrial Report, int[]? Step, SearchCandidate? Uniform)>();

        Dictionary<string, SearchCandidate> ChoiceAt(int[] step) => layers.Select((layer, l) => (layer.Node, hulls[l][step[l]].Candidate)).ToDictionary(p => p.Node, p => p.Candidate);

        SearchTrial? Verify(string kind, string label, Dictionary<string, SearchCandidate> choice, double predictedDamage, double predictedCost)
        {
            if (clock.Elapsed > limit)
            {
                timeLimitReached = true;
                return null;
            }

            Trial trial;
            try
            {
                trial = trials.Run(choice, settings);
            }
            catch (Exception e) when (Recoverable(e))
            {
                return new SearchTrial(kind, label, predictedDamage, predictedCost, 0, 0, [], false)
                {
                    Choice = choice.ToDictionary(c => c.Key, c => c.Value.Name, StringComparer.Ordinal),
                    Failed = Failure(e),
                };
            }

            IReadOnlyList<GateCheck> gates = Evaluator.CheckGates(trial.Validation, settings, inputs.ModelPath);
            return new SearchTrial(kind, label, predictedDamage, predictedCost, trial.Bytes, trial.ZippedBytes, gates, gates.All(g => g.Passed))
            {
                Choice = choice.ToDictionary(c => c.Key, c => c.Value.Name, StringComparer.Ordinal),
                LatencyMs = trial.LatencyMs,
                Damage = trial.Damage,
            };
        }

        // Bisection along the path, from the most compressed choice (step 0) to the least: the first step that passes is kept.
        int lo = 0, hi = path.Count - 1;
        var passedAt = new Dictionary<int, int>();
        bool lastIsFloor = path[^1].Select((h, l) => hulls[l][h].Candidate == SearchCandidate.None).All(none => none);
        while (lo < hi || (lo == hi && !lastIsFloor && !passedAt.ContainsKey(hi)))
        {
            int mid = lo < hi ? (lo + hi) / 2 : hi;
            SearchTrial? trial = Verify("path", $"step {mid + 1} of {path.Count}", ChoiceAt(path[mid]),
                CandidateSelection.PredictedDamage(optionHulls, path[mid]), CandidateSelection.PredictedCost(optionHulls, path[mid]));
            if (trial is null)
            {
                break;
            }

            verified.Add((trial, path[mid], null));
            if (trial.Passed)
            {
                passedAt[mid] = verified.Count - 1;
                hi = mid;
                if (lo == hi)
                {
                    break;
                }
            }
            else if (mid == path.Count - 1)
            {
                break;
            }
            else
            {
                lo = mid + 1;
            }
        }

        int chosen = passedAt.Count == 0 ? -1 : passedAt[passedAt.Keys.Min()];
        double Objective(SearchTrial t) => goal == SearchSettings.Latency ? t.LatencyMs!.Value : t.ZippedBytes;

        // The best uniform setting, verified where the table says it could beat the choice: the cheapest first, to the first
        // that passes.
        int bestUniform = -1;
        var uniforms = candidates
            .Select(candidate => (Candidate: candidate, Cells: table.Select(row => row.Cells.FirstOrDefault(c => c.Candidate == candidate.Name)).ToList()))
            .Where(u => u.Cells.Any(c => c is not null))
            // A layer that misses the budget alone may pass on every layer together (distillation refits the layers after it
            // to its outputs: int4 + prune 90% on the digits MLP), so only a candidate that cannot be applied is left out.
            .Where(u => u.Cells.All(c => c is null || c.Failed is null))
            .Select(u => (u.Candidate, Cost: u.Cells.Sum(c => c is null ? 0 : goal == SearchSettings.Latency ? c.LatencyMs!.Value - floor.LatencyMs!.Value : c.ZippedAfter - c.ZippedBefore),
                Damage: u.Cells.Sum(c => c is null ? 0 : Math.Max(0, c.Damage - floor.Damage))))
            .OrderBy(u => u.Cost).ThenBy(u => IndexOf(candidates, u.Candidate))
            .ToList();
        double chosenCost = chosen < 0 ? 0 : verified[chosen].Report.PredictedCost;
        // A uniform choice the table says damages more than a path step that missed the budget is not verified: on the
        // transformer each pruned uniform trial refits every layer, a minute or more, and misses.
        double missedDamage = verified.Where(v => v.Step is not null && !v.Report.Passed).Select(v => v.Report.PredictedDamage).DefaultIfEmpty(double.PositiveInfinity).Min();
        foreach (var uniform in uniforms)
        {
            if (chosen >= 0 && uniform.Cost >= chosenCost)
            {
                break;
            }

            if (uniform.Damage > missedDamage)
            {
                continue;
            }

            var choice = layers.ToDictionary(l => l.Node, l => uniform.Candidate.AppliesTo(l.OpType) ? uniform.Candidate : SearchCandidate.None);
            SearchTrial? trial = Verify("uniform", "uniform " + uniform.Candidate.Name, choice, uniform.Damage, uniform.Cost);
            if (trial is null)
            {
                break;
            }

            verified.Add((trial, null, uniform.Candidate));
            if (trial.Passed)
            {
                bestUniform = verified.Count - 1;
                break;
            }
        }

        if (bestUniform >= 0 && (chosen < 0 || Objective(verified[bestUniform].Report) < Objective(verified[chosen].Report)))
        {
            chosen = bestUniform;
        }

        IReadOnlyDictionary<string, SearchCandidate> final = chosen < 0
            ? layers.ToDictionary(l => l.Node, _ => SearchCandidate.None)
            : verified[chosen].Report.Choice.ToDictionary(c => c.Key, c => c.Value == SearchCandidate.None.Name ? SearchCandidate.None : candidates.First(k => k.Name == c.Value));
        var origin = new SettingOrigin(SettingLevel.Node, OriginDescription);
        ResolvedSettings chosenSettings = settings.WithNodes(
            final.ToDictionary(c => c.Key, c => c.Value.Values, StringComparer.Ordinal), origin);

        var warnings = new List<CompressionWarning>();
        if (layers.Count == 0)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.NothingCompressed,
                "Compress=auto found no layer to choose for: the search takes named MatMul, Gemm, Conv and Gather nodes whose weight is an initializer of at " +
                "least WeightThreshold elements and that the overrides file does not pin. The model was compressed with the settings as given."));
        }

        string validationData = inputs.Settings.Get(EvaluationSettings.ValidationData);
        if (validationData.Length > 0 && string.Equals(Path.TrimEndingDirectorySeparator(validationData),
            Path.TrimEndingDirectorySeparator(inputs.Settings.Get(EvaluationSettings.CalibrationData)), StringComparison.Ordinal))
        {
            // Measured: on the digits MLP, with the same 180 rows for both, the choice kept a 1-point budget on them and lost
            // 1.11 points on 180 rows it had not seen.
            warnings.Add(new CompressionWarning(DiagnosticCodes.SearchJudgedOnCalibration,
                $"The budget search judged its choice on '{validationData}', which is also CalibrationData: the refits and data-aware criteria were fit to " +
                "the very samples the budget was checked on, so the budget holds on them but not necessarily beyond. Give ValidationData samples the " +
                "calibration did not see (split the folder in two), and keep a margin where accuracy on new data matters."));
        }

        if (timeLimitReached)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.SearchTimeLimitReached,
                $"The budget search reached SearchTimeLimit={limit.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s ({inputs.Settings.OriginOf(SearchSettings.SearchTimeLimit)}) after scoring " +
                $"{table.Sum(r => r.Cells.Count)} of {layers.Sum(l => candidates.Count(c => c.AppliesTo(l.OpType)))} layer candidates and verifying {verified.Count} choices; " +
                "it kept the smallest choice verified so far, which another run may not reach at the same point. " +
                (string.IsNullOrEmpty(inputs.CacheDirectory) ? string.Empty : "The table so far is kept in the compression cache: the next search scores only what is missing. ") +
                "Raise SearchTimeLimit, restrict SearchTechniques, or pin the choice (the overrides file the build wrote)."));
        }

        var report = new SearchReport(
            goal,
            techniques,
            budget,
            (long)limit.TotalSeconds,
            candidates.Select(c => c.Name).ToList(),
            layers.Select((layer, l) => new SearchLayerReport(layer.Node, layer.OpType, layer.Weight, layer.Shape, final[layer.Node].Name,
                table[l].Cells.Select(c => c.ToEntry(settings, inputs.ModelPath, floor)).ToList())).ToList(),
            verified.Select(v => v.Report).ToList(),
            chosen,
            OverridesText(layers, final))
        {
            TimeLimitReached = timeLimitReached,
            BestUniform = bestUniform,
            Floor = FloorTrial(floor, settings, inputs.ModelPath, layers),
        };
        return new SearchOutcome(chosenSettings, report, warnings, fromCache);
    }

    private static SearchTrial FloorTrial(Trial floor, ResolvedSettings settings, string modelPath, IReadOnlyList<SearchLayer> layers)
    {
        IReadOnlyList<GateCheck> gates = Evaluator.CheckGates(floor.Validation, settings, modelPath);
        return new SearchTrial("floor", "every searched layer left alone", 0, 0, floor.Bytes, floor.ZippedBytes, gates, gates.All(g => g.Passed))
        {
            Choice = layers.ToDictionary(l => l.Node, _ => SearchCandidate.None.Name, StringComparer.Ordinal),
            LatencyMs = floor.LatencyMs,
            Damage = floor.Damage,
        };
    }

    /// <summary>The choice as an overrides file: every searched node, its four amounts (<c>none</c> where unused), in the model's order.</summary>
    public static string OverridesText(IReadOnlyList<SearchLayer> layers, IReadOnlyDictionary<string, SearchCandidate> choice)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("nodes");
            foreach (SearchLayer layer in layers)
            {
                SearchCandidate candidate = choice[layer.Node];
                if (candidate == SearchCandidate.None)
                {
                    writer.WriteString(layer.Node, "none");
                    continue;
                }

                writer.WriteStartObject(layer.Node);
                foreach ((Setting setting, object value) in candidate.Values)
                {
                    writer.WriteString(setting.Name, value is double d && double.IsNaN(d) || value is long n && n == IntegerSetting.AutoValue ? "none" : setting.Format(value));
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    /// <summary>The settings with the default budget added when no gate is set: accuracy with labels, top-1 agreement on a classifier-like output, else cosine.</summary>
    private static (ResolvedSettings Settings, IReadOnlyList<SearchBudget> Budget) WithBudget(ResolvedSettings settings, ValidationResult floor)
    {
        var set = EvaluationSettings.Gates.Where(g => !double.IsNaN(settings.Get(g))).ToList();
        if (set.Count > 0)
        {
            return (settings, set.Select(g => new SearchBudget(g.Name, settings.Get(g), settings.OriginOf(g).Description)).ToList());
        }

        (NumberSetting gate, double limit) = floor.Accuracy is not null ? (EvaluationSettings.MaxAccuracyDrop, SearchSettings.DefaultAccuracyDrop)
            : floor.Outputs.Any(o => o.Top1Agreement is not null) ? (EvaluationSettings.MinTop1Agreement, SearchSettings.DefaultTop1Agreement)
            : (EvaluationSettings.MinCosineSimilarity, SearchSettings.DefaultCosineSimilarity);
        var origin = new SettingOrigin(SettingLevel.Default, "the default budget of Compress=auto");
        return (settings.With(gate, limit, origin), [new SearchBudget(gate.Name, limit, origin.Description)]);
    }

    /// <summary>
    /// Whether a trial's failure leaves the search able to go on: a candidate the settings or the model refuse, one ONNX
    /// Runtime refuses to run, or a fault of a pass on this mix. Cancellation, a crash or hang of ONNX Runtime's worker, and a
    /// missing ONNX Runtime end the compression.
    /// </summary>
    private static bool Recoverable(Exception e) => e switch
    {
        OperationCanceledException => false,
        CompressionException c => c.Code is not (DiagnosticCodes.OnnxRuntimeCrashed or DiagnosticCodes.ValidationTimedOut or DiagnosticCodes.WorkerFailed
            or DiagnosticCodes.OnnxRuntimeNotFound or DiagnosticCodes.OriginalModelFailsToRun),
        OutOfMemoryException => false,
        _ => true,
    };

    private static string Failure(Exception e) => e is CompressionException c ? $"{c.Code}: {c.Message}" : $"{e.GetType().Name}: {e.Message}";

    private static int IndexOf(IReadOnlyList<SearchCandidate> candidates, SearchCandidate candidate) =>
        candidates.Select((c, i) => (c, i)).First(p => p.c == candidate).i;

    private static bool Passes(ValidationResult validation, ResolvedSettings settings, string modelPath) =>
        Evaluator.CheckGates(validation, settings, modelPath).All(g => g.Passed);

    /// <summary>The outputs' damage: the mean over outputs of the relative squared error (a mismatch share for non-float outputs).</summary>
    internal static double DamageOf(ValidationResult validation) => validation.Outputs.Count == 0 ? 0 : validation.Outputs.Average(o =>
        o.CosineSimilarity is null ? (o.Elements == 0 ? 0 : (double)o.Mismatches / o.Elements) : o.RelativeSquaredError);

    /// <summary>One whole-model choice, compressed and scored.</summary>
    internal sealed record Trial(ModelProto Model, long Bytes, long ZippedBytes, ValidationResult Validation, double Damage, double? LatencyMs);

    /// <summary>One row of the sensitivity table: a layer and its cells.</summary>
    internal sealed record TableRow(string Node, IReadOnlyList<TableCell> Cells);

    /// <summary>One cell: a layer compressed alone with a candidate.</summary>
    internal sealed record TableCell(string Candidate, long BytesBefore, long BytesAfter, long ZippedBefore, long ZippedAfter, double Damage, double? LatencyMs, ValidationResult? Validation, string? Failed)
    {
        public SensitivityEntry ToEntry(ResolvedSettings settings, string modelPath, Trial floor)
        {
            IReadOnlyList<GateCheck> gates = Validation is null ? [] : Evaluator.CheckGates(Validation, settings, modelPath);
            return new SensitivityEntry(Candidate, BytesBefore, BytesAfter, ZippedBefore, ZippedAfter, Math.Max(0, Damage - floor.Damage), Failed is null && gates.All(g => g.Passed))
            {
                Gates = gates,
                LatencyMs = LatencyMs,
                Failed = Failed,
            };
        }
    }

    /// <summary>
    /// Compresses and scores choices, as the compression would: a fresh IR of the original, the passes, ONNX Runtime. The
    /// table's cells share distillation's recordings and refits where they are the same (<see cref="Distillation"/>); the
    /// verified choices, which change many layers at once, make their own.
    /// </summary>
    private sealed class Trials(SearchInputs inputs, bool timed, CancellationToken cancellationToken)
    {
        /// <summary>The recordings and refits the cells share: a hit is the same statistics or weights the work would give.</summary>
        public DistillationCache Distillation { get; } = new();

        private readonly Lazy<SampleSet?> calibration = new(inputs.Calibration);
        private readonly Dictionary<string, (long Bytes, long Zipped)> floorSizes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (ValidationResult, double?)> scored = new(StringComparer.Ordinal);
        private Dictionary<string, TensorProto>? floorTensors;

        /// <summary>The floor the cells' bytes are counted against; set before the first cell.</summary>
        public Trial Floor
        {
            set => floorTensors = Tensors(value.Model);
        }

        public Trial Run(IReadOnlyDictionary<string, SearchCandidate> choice, ResolvedSettings settings)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (ModelProto proto, PipelineResult pipeline) = Compress(choice, settings, null);
            byte[] bytes = OnnxModelFile.ToBytes(proto);
            (ValidationResult validation, double? latency) = Score(bytes, pipeline.SessionConfig);
            return new Trial(proto, bytes.LongLength, DeployedSize.Of(bytes), validation, DamageOf(validation), latency);
        }

        public TableCell Cell(SearchLayer layer, SearchCandidate candidate, IReadOnlyDictionary<string, SearchCandidate> choice, ResolvedSettings settings)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                (ModelProto proto, PipelineResult pipeline) = Compress(choice, settings, Distillation);
                (long before, long after, long zippedBefore, long zippedAfter) = Difference(proto);
                byte[] bytes = OnnxModelFile.ToBytes(proto);
                (ValidationResult validation, double? latency) = Score(bytes, pipeline.SessionConfig);
                return new TableCell(candidate.Name, before, after, zippedBefore, zippedAfter, DamageOf(validation), latency, validation, null);
            }
            catch (Exception e) when (Recoverable(e))
            {
                return new TableCell(candidate.Name, 0, 0, 0, 0, double.NaN, null, null, Failure(e));
            }
        }

        private (ModelProto, PipelineResult) Compress(IReadOnlyDictionary<string, SearchCandidate> choice, ResolvedSettings settings, DistillationCache? distillation)
        {
            var model = Model.FromProto(inputs.Model.Clone(), inputs.ModelPath);
            ResolvedSettings trialSettings = settings.WithNodes(choice.ToDictionary(c => c.Key, c => c.Value.Values, StringComparer.Ordinal),
                new SettingOrigin(SettingLevel.Node, OriginDescription));
            var context = new PassContext(model, trialSettings, inputs.ModelPath)
            {
                Runner = inputs.Runner,
                OpsetRaisedAtLoad = inputs.OpsetRaisedAtLoad,
                CalibrationSource = () => calibration.Value,
                DistillationCache = distillation,
            };
            PipelineResult pipeline = CompressionPipeline.Run(context);
            return (model.ToProto(), pipeline);
        }

        /// <summary>Scores a compressed model in ONNX Runtime; a model with the same bytes and session entries as one scored
        /// before (int4 Conv weights stay 8-bit, so int4 and int8 give one model) takes that score.</summary>
        private (ValidationResult, double?) Score(byte[] bytes, IReadOnlyDictionary<string, string> sessionConfig)
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            hash.AppendData(bytes);
            foreach ((string key, string value) in sessionConfig.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                hash.AppendData(Encoding.UTF8.GetBytes($"\n{key}={value}"));
            }

            string identity = Convert.ToHexString(hash.GetHashAndReset());
            if (scored.TryGetValue(identity, out var known))
            {
                return known;
            }

            (ValidationResult, double?) score;
            if (!timed)
            {
                score = (inputs.Evaluator.Score(bytes, sessionConfig), null);
            }
            else
            {
                (ValidationResult result, double milliseconds) = inputs.Evaluator.ScoreTimed(bytes, sessionConfig, TimedRuns);
                score = (result, Math.Round(milliseconds, 3));
            }

            scored[identity] = score;
            return score;
        }

        /// <summary>The tensors a trial changed against the floor: the bytes of the floor's it replaced and of those that replaced them.</summary>
        private (long Before, long After, long ZippedBefore, long ZippedAfter) Difference(ModelProto proto)
        {
            Dictionary<string, TensorProto> tensors = Tensors(proto);
            long before = 0, after = 0, zippedBefore = 0, zippedAfter = 0;
            foreach ((string name, TensorProto tensor) in tensors)
            {
                if (floorTensors!.TryGetValue(name, out TensorProto? original) && original.Equals(tensor))
                {
                    continue;
                }

                byte[] bytes = Google.Protobuf.MessageExtensions.ToByteArray(tensor);
                after += bytes.LongLength;
                zippedAfter += DeployedSize.Of(bytes);
            }

            foreach ((string name, TensorProto original) in floorTensors!)
            {
                if (tensors.TryGetValue(name, out TensorProto? tensor) && original.Equals(tensor))
                {
                    continue;
                }

                if (!floorSizes.TryGetValue(name, out var size))
                {
                    byte[] bytes = Google.Protobuf.MessageExtensions.ToByteArray(original);
                    floorSizes[name] = size = (bytes.LongLength, DeployedSize.Of(bytes));
                }

                before += size.Bytes;
                zippedBefore += size.Zipped;
            }

            return (before, after, zippedBefore, zippedAfter);
        }

        private static Dictionary<string, TensorProto> Tensors(ModelProto proto)
        {
            var tensors = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
            int unnamed = 0;
            foreach (TensorProto tensor in proto.Graph.Initializer)
            {
                tensors[tensor.Name.Length > 0 ? tensor.Name : "#" + unnamed++] = tensor;
            }

            return tensors;
        }
    }
}
