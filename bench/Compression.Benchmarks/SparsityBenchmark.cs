using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Compression.Core;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Benchmarks;

/// <summary>
/// The benchmark of pruning, low-rank factorization, clustering and distillation (<c>--sparsity</c>): compresses the
/// digits MLP and CNN with the real compressor (validation off) for each row of a table of settings, one technique a row
/// (<c>Quantize=none</c>, so that a row measures the technique alone) and their combinations, then measures the digits
/// test accuracy and its loss against the fp32 original beside torch's one-shot pruning at the same amount
/// (<c>bench/sparsity/torch_baseline.json</c>), the file and zipped sizes, the zeros in the float weights, the
/// compression time, and for the channel-pruning rows the median ONNX Runtime latency against the original, there and on
/// the ResNet-style CNN. A row that fails prints its error and the benchmark goes on. With <c>--large</c> it adds the
/// time of each technique on the 16 x 4096 x 4096 MLP, each in a child process.
/// </summary>
internal static class SparsityBenchmark
{
    /// <summary>The time each technique must stay under on the 16 x 4096 x 4096 MLP.</summary>
    private const double LargeBudgetSeconds = 60;

    /// <summary>Calibration samples for the ResNet and the large MLP, which have no real data (seeded uniform inputs).</summary>
    private const int SyntheticCalibrationSamples = 32;

    private static readonly SettingOrigin Origin = new(SettingLevel.Model, "the sparsity benchmark");

    public static int Run(BenchmarkOptions options)
    {
        string root = BenchModels.RepositoryRoot();
        string sparsity = Path.Combine(root, "bench", "sparsity");
        string calibration = Path.Combine(sparsity, "calibration");
        string baselinePath = Path.Combine(sparsity, "torch_baseline.json");
        if (!File.Exists(Path.Combine(calibration, "pixels.npy")) || !File.Exists(baselinePath))
        {
            Console.Error.WriteLine($"{baselinePath} or {Path.Combine(calibration, "pixels.npy")} is missing: run /usr/bin/python3 bench/sparsity/torch_baseline.py first.");
            return 1;
        }

        TorchBaseline baseline = TorchBaseline.Load(baselinePath);
        string work = Path.Combine(AppContext.BaseDirectory, "sparsity-work");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"ONNX Runtime {OnnxRuntimeLibrary.Version}, 1 intra-op thread; .NET {Environment.Version}, {Environment.ProcessorCount} logical processors, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        if (options.Models.Contains(BenchModels.DigitsMlp) || options.Models.Contains(BenchModels.DigitsCnn))
        {
            Console.WriteLine($"torch {baseline.TorchVersion} (bench/sparsity/torch_baseline.json): one-shot torch.nn.utils.prune on the same trained weights, no fine-tuning on either side.");
            Console.WriteLine($"Calibration data: {baseline.CalibrationSamples} images of the digits training split (bench/sparsity/calibration); accuracy on the {baseline.TestImages} images of the test split.");
        }

        if (!options.Models.All(m => m == BenchModels.LargeMlp))
        {
            Console.WriteLine($"Latency: median of {options.Iterations} rounds after {options.Warmup} warm-up rounds (x{BenchModel.SmallModelScale} runs a round for the digits models), batch 1, the variants interleaved.");
        }
        Console.WriteLine();

        var targets = new List<TargetCheck>();
        DigitsTestSet digits = DigitsTestSet.Load(Path.Combine(root, "samples", "Digits", "Data", "digits-test.csv"));
        foreach ((string name, string path, double channelAmount) in new[]
        {
            (BenchModels.DigitsMlp, Path.Combine(root, "samples", "Digits", "Models", "digits.onnx"), 0.5),
            (BenchModels.DigitsCnn, Path.Combine(root, "bench", "models", "digits_cnn.onnx"), 0.3),
        })
        {
            if (!options.Models.Contains(name))
            {
                continue;
            }

            RunDigitsModel(name, path, channelAmount, digits, calibration, baseline, Directory.CreateDirectory(Path.Combine(work, name)).FullName, options, targets);
        }

        if (options.Models.Contains(BenchModels.ResNet))
        {
            RunResNet(Directory.CreateDirectory(Path.Combine(work, BenchModels.ResNet)).FullName, options, targets);
        }

        if (options.Models.Contains(BenchModels.LargeMlp))
        {
            RunLarge(Directory.CreateDirectory(Path.Combine(work, BenchModels.LargeMlp)).FullName, targets);
        }

        PrintTargets(targets);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Benchmark run time: {clock.Elapsed.TotalSeconds:F0} s."));
        return 0;
    }

    /// <summary>The rows for one digits model: each technique alone, then combined.</summary>
    private static IEnumerable<SparsityVariant> DigitsVariants(double channelAmount)
    {
        string[] none = ["Quantize=none"];
        string[] data = ["Quantize=none", "CalibrationData=" + CalibrationMarker];
        foreach (double amount in new[] { 0.5, 0.75, 0.9 })
        {
            string p = Percent(amount);
            string prune = Number(amount);
            foreach ((string series, string[] settings, string torch) in new (string, string[], string)[]
            {
                ("magnitude", [.. none, "PruneCriterion=magnitude"], "l1_unstructured"),
                ("magnitude, global", [.. none, "PruneCriterion=magnitude", "PruneScope=global"], "global_unstructured"),
                ("random", [.. none, "PruneCriterion=random"], "l1_unstructured"),
                ("synflow", [.. none, "PruneCriterion=synflow"], "l1_unstructured"),
                ("wanda, calibrated", [.. data, "PruneCriterion=wanda", "Distill=false"], "l1_unstructured"),
                ("sparsegpt, calibrated", [.. data, "PruneCriterion=sparsegpt", "Distill=false"], "l1_unstructured"),
                ("magnitude + distill", [.. data, "PruneCriterion=magnitude", "Distill=true"], "l1_unstructured"),
                ("sparsegpt + distill", [.. data, "PruneCriterion=sparsegpt", "Distill=true"], "l1_unstructured"),
            })
            {
                string[] parts = series.Split([", ", " + "], 2, StringSplitOptions.None);
                string label = $"{parts[0]} {p} unstructured{series[parts[0].Length..]}";
                yield return new(label, "unstructured", [.. settings, "Prune=" + prune], torch, amount) { Series = series };
            }
        }

        yield return new("2:4 magnitude", "n:m", [.. none, "PrunePattern=2:4", "PruneCriterion=magnitude"], "l1_unstructured", 0.5);
        yield return new("2:4 sparsegpt, calibrated", "n:m", [.. data, "PrunePattern=2:4", "PruneCriterion=sparsegpt", "Distill=false"], "l1_unstructured", 0.5);
        yield return new("2:4 magnitude + distill", "n:m", [.. data, "PrunePattern=2:4", "PruneCriterion=magnitude", "Distill=true"], "l1_unstructured", 0.5);
        yield return new("2:4 sparsegpt + distill", "n:m", [.. data, "PrunePattern=2:4", "PruneCriterion=sparsegpt", "Distill=true"], "l1_unstructured", 0.5);

        yield return new("low-rank 50% of parameters", "low-rank", [.. none, "LowRank=0.5"]);
        yield return new("low-rank 50%, whitened (calibrated)", "low-rank", [.. data, "LowRank=0.5", "Distill=false"]);
        yield return new("low-rank 50% + distill", "low-rank", [.. data, "LowRank=0.5", "Distill=true"]);

        string c = Percent(channelAmount);
        string channel = Number(channelAmount);
        yield return new($"channel {c}", "channel", [.. none, "PrunePattern=channel", "Prune=" + channel], "ln_structured", channelAmount, Latency: true);
        yield return new($"channel {c} + distill", "channel", [.. data, "PrunePattern=channel", "Prune=" + channel, "Distill=true"], "ln_structured", channelAmount, Latency: true);

        foreach (int bits in new[] { 2, 3, 4 })
        {
            yield return new($"cluster {bits} bits per tensor", "clustering", [.. none, "Cluster=" + bits.ToString(CultureInfo.InvariantCulture), "ClusterGranularity=tensor"]);
        }

        yield return new("magnitude 90% + cluster 4 bits", "combined", [.. none, "Prune=0.9", "PruneCriterion=magnitude", "Cluster=4"], "l1_unstructured", 0.9);
        yield return new("sparsegpt 90% + distill + cluster 4 bits", "combined", [.. data, "Prune=0.9", "PruneCriterion=sparsegpt", "Distill=true", "Cluster=4"], "l1_unstructured", 0.9);
        yield return new("sparsegpt 90% + distill + cluster 4 bits + int8 (default)", "combined",
            ["CalibrationData=" + CalibrationMarker, "Prune=0.9", "PruneCriterion=sparsegpt", "Distill=true", "Cluster=4"], "l1_unstructured", 0.9);
    }

    /// <summary>Stands for the model's calibration folder in a row's settings.</summary>
    private const string CalibrationMarker = "{calibration}";

    private static void RunDigitsModel(string name, string path, double channelAmount, DigitsTestSet digits, string calibration, TorchBaseline baseline, string folder, BenchmarkOptions options, List<TargetCheck> targets)
    {
        Console.Error.WriteLine($"[{name}] {path}");
        long originalBytes = new FileInfo(path).Length;
        long originalZip = ZippedBytes(path);
        int originalCorrect = Accuracy(path, digits);
        double originalAccuracy = (double)originalCorrect / digits.Count;
        TorchModel torch = baseline.Models[name];
        var rows = new List<SparsityRow>
        {
            new("fp32 original", "original", path, null, 0, null, originalCorrect, originalBytes, originalZip, WeightCensus.Of(path), null),
        };
        foreach (SparsityVariant variant in DigitsVariants(channelAmount))
        {
            rows.Add(Compress(name, variant, path, folder, calibration, output => (Accuracy(output, digits), null)));
        }

        Console.WriteLine($"### {name}: accuracy on the digits test split against torch's one-shot pruning");
        Console.WriteLine();
        if (torch.OriginalCorrect != originalCorrect)
        {
            Console.WriteLine($"Note: torch_baseline.json's original has {torch.OriginalCorrect} of {digits.Count} right, ONNX Runtime {originalCorrect}: regenerate it (see bench/README.md).");
            Console.WriteLine();
        }

        Console.WriteLine("| variant | changed (pass: tensors) | accuracy | loss (points) | torch, same amount: method, loss | our loss / torch's | zeros in weights (float, int8) | zeros in changed tensors (report) | weights (float, int8) | file bytes | file vs fp32 | zipped bytes | zipped: x smaller | compress s |");
        Console.WriteLine("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (SparsityRow row in rows)
        {
            if (row.Error is not null)
            {
                Console.WriteLine($"| {row.Name} | failed: {Cell(row.Error)} | | | {TorchCell(torch, row.Variant)} | | | | | | | | | {Seconds(row.Seconds)} |");
                continue;
            }

            double accuracy = (double)row.Correct / digits.Count;
            double loss = 100 * (originalAccuracy - accuracy);
            TorchRow? reference = row.Variant is { TorchMethod: { } method } v ? torch.Find(method, v.TorchAmount) : null;
            string ratio = reference is null ? "" : reference.LossPoints > 0 ? Fixed(loss / reference.LossPoints, "F2") : "(torch lost nothing)";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Name} | {row.Changed} | {100 * accuracy:F2}% | {loss:F2} | {TorchCell(torch, row.Variant)} | {ratio} | {100 * row.Census.ZeroShare:F1}% | {(row.ReportedZeros is { } z ? Fixed(100 * z, "F1") + "%" : "")} | {row.Census.Weights:N0} | {row.Bytes:N0} | {(double)row.Bytes / originalBytes:F3}x | {row.ZippedBytes:N0} | {(double)originalZip / row.ZippedBytes:F1}x | {Seconds(row.Seconds)} |"));
        }

        Console.WriteLine();
        PrintCriteria(name, rows, digits.Count, torch);
        PrintTechniques(rows);
        IReadOnlyDictionary<string, double> latency = PrintLatency(name, rows.Where(r => r.Variant is null || (r.Variant.Latency && r.Error is null)).ToList(), [new OnnxTensor<float>(digits.Images.AsSpan(0, DigitsTestSet.Pixels).ToArray(), [1, DigitsTestSet.Pixels])], ["pixels"], fast: true, options);
        AddDigitsTargets(name, rows, digits.Count, torch, latency, targets);
    }

    /// <summary>The ResNet-style CNN (seeded weights, no labels): channel pruning's latency and how far its outputs moved.</summary>
    private static void RunResNet(string folder, BenchmarkOptions options, List<TargetCheck> targets)
    {
        Console.Error.WriteLine($"[{BenchModels.ResNet}] building");
        string path = Path.Combine(folder, "resnet.onnx");
        OnnxModelFile.Save(GeneratedModels.ResNet(), path);
        string calibration = Directory.CreateDirectory(Path.Combine(folder, "calibration")).FullName;
        Compression.Testing.NumPyWriter.Write<float>(Path.Combine(calibration, "image.npy"), Uniform(100, SyntheticCalibrationSamples * 3 * 64 * 64), SyntheticCalibrationSamples, 3, 64, 64);
        OnnxTensor[] Images(int seed) => [new OnnxTensor<float>(Uniform(seed, 3 * 64 * 64), [1, 3, 64, 64])];
        using var original = new OnnxSession(path, new OnnxSessionOptions { IntraOpThreads = 1 });
        var rows = new List<SparsityRow>
        {
            new("fp32 original", "original", path, null, 0, null, 0, new FileInfo(path).Length, ZippedBytes(path), WeightCensus.Of(path), "1.00000, 100.0%"),
        };
        string[] data = ["Quantize=none", "CalibrationData=" + CalibrationMarker];
        foreach (SparsityVariant variant in new SparsityVariant[]
        {
            new("channel 30%", "channel", ["Quantize=none", "PrunePattern=channel", "Prune=0.3"], Latency: true),
            new("channel 30% + distill (seeded inputs)", "channel", [.. data, "PrunePattern=channel", "Prune=0.3", "Distill=true"], Latency: true),
            new("channel 50%", "channel", ["Quantize=none", "PrunePattern=channel", "Prune=0.5"], Latency: true),
        })
        {
            rows.Add(Compress(BenchModels.ResNet, variant, path, folder, calibration, output =>
            {
                using var session = new OnnxSession(output, new OnnxSessionOptions { IntraOpThreads = 1 });
                return (0, CompareOutputs(session, original, Enumerable.Range(1, 8).Select(Images)));
            }));
        }

        Console.WriteLine($"### {BenchModels.ResNet}: channel pruning (seeded weights: outputs against the original, no accuracy)");
        Console.WriteLine();
        Console.WriteLine("| variant | changed (pass: tensors) | vs fp32: lowest output cosine, top-1 agreement | weights (float, int8) | file bytes | file vs fp32 | compress s |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (SparsityRow row in rows)
        {
            Console.WriteLine(row.Error is not null
                ? $"| {row.Name} | failed: {Cell(row.Error)} | | | | | {Seconds(row.Seconds)} |"
                : string.Create(CultureInfo.InvariantCulture,
                    $"| {row.Name} | {row.Changed} | {row.Quality} | {row.Census.Weights:N0} | {row.Bytes:N0} | {(double)row.Bytes / rows[0].Bytes:F3}x | {Seconds(row.Seconds)} |"));
        }

        Console.WriteLine();
        PrintTechniques(rows);
        IReadOnlyDictionary<string, double> latency = PrintLatency(BenchModels.ResNet, rows.Where(r => r.Error is null).ToList(), Images(1), ["image"], fast: false, options);
        foreach (SparsityRow row in rows.Where(r => r.Variant is not null && r.Name.StartsWith("channel 30%", StringComparison.Ordinal)))
        {
            targets.Add(LatencyTarget(BenchModels.ResNet, row, latency));
        }
    }

    /// <summary>Each technique's compression time on the 16 x 4096 x 4096 MLP (1.07 GB), each in a child process.</summary>
    private static void RunLarge(string folder, List<TargetCheck> targets)
    {
        var clock = Stopwatch.StartNew();
        string path = Path.Combine(folder, "large_mlp.onnx");
        OnnxModelFile.Save(GeneratedModels.LargeMlp(), path);
        string calibration = Directory.CreateDirectory(Path.Combine(folder, "calibration")).FullName;
        Compression.Testing.NumPyWriter.Write<float>(Path.Combine(calibration, "x.npy"), Uniform(100, SyntheticCalibrationSamples * 4096), SyntheticCalibrationSamples, 4096);
        Console.Error.WriteLine($"[{BenchModels.LargeMlp}] built and saved in {clock.Elapsed.TotalSeconds:F1} s");
        long bytes = new FileInfo(path).Length;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"### {BenchModels.LargeMlp}: each technique on 16 x (MatMul 4096 x 4096, ReLU), {bytes / 1e9:F2} GB, in a child process (budget {LargeBudgetSeconds:F0} s; calibrated rows: {SyntheticCalibrationSamples} seeded inputs)"));
        Console.WriteLine();
        Console.WriteLine("| technique | tensors changed | seconds | under a minute | output bytes | vs fp32 | peak RSS GB |");
        Console.WriteLine("|---|---:|---:|---|---:|---:|---:|");
        string[] data = ["Quantize=none", "CalibrationData=" + calibration];
        foreach ((string name, string[] settings) in new (string, string[])[]
        {
            ("magnitude 50% unstructured", ["Quantize=none", "Prune=0.5"]),
            ("magnitude 50% unstructured, global", ["Quantize=none", "Prune=0.5", "PruneScope=global"]),
            ("synflow 50% unstructured", ["Quantize=none", "Prune=0.5", "PruneCriterion=synflow"]),
            ("wanda 50% unstructured", [.. data, "Prune=0.5", "PruneCriterion=wanda", "Distill=false"]),
            ("sparsegpt 50% unstructured", [.. data, "Prune=0.5", "PruneCriterion=sparsegpt", "Distill=false"]),
            ("2:4 magnitude", ["Quantize=none", "PrunePattern=2:4"]),
            ("2:4 magnitude + distill", [.. data, "PrunePattern=2:4", "Distill=true"]),
            ("low-rank 50%", ["Quantize=none", "LowRank=0.5"]),
            ("low-rank 50% + distill", [.. data, "LowRank=0.5", "Distill=true"]),
            ("channel 50%", ["Quantize=none", "PrunePattern=channel", "Prune=0.5"]),
            ("channel 50% + distill", [.. data, "PrunePattern=channel", "Prune=0.5", "Distill=true"]),
            ("cluster 4 bits per tensor", ["Quantize=none", "Cluster=4"]),
            ("sparsegpt 90% + distill + cluster 4 bits + int8", ["CalibrationData=" + calibration, "Prune=0.9", "PruneCriterion=sparsegpt", "Distill=true", "Cluster=4"]),
        })
        {
            Console.Error.WriteLine($"[{BenchModels.LargeMlp}] compressing in a child process: {name} ...");
            string output = Path.Combine(folder, "out", "large.onnx");
            if (Directory.Exists(Path.GetDirectoryName(output)))
            {
                Directory.Delete(Path.GetDirectoryName(output)!, recursive: true);
            }

            (int exitCode, string stdout, string stderr) = ChildMode.RunChildCapturing([ChildMode.Compress, path, output, .. settings]);
            string? line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("compress-seconds ", StringComparison.Ordinal));
            if (exitCode != 0 || line is null)
            {
                Console.WriteLine($"| {name} | failed: {Cell(FirstLine(stderr.Length > 0 ? stderr : stdout))} | | | | | |");
                targets.Add(new(BenchModels.LargeMlp, "under a minute", name, "failed", Failed));
                continue;
            }

            string[] fields = line.Split(' ');
            double seconds = double.Parse(fields[1], CultureInfo.InvariantCulture);
            double peak = double.Parse(fields[3], CultureInfo.InvariantCulture);
            int changed = int.Parse(fields[13], CultureInfo.InvariantCulture);
            long outBytes = new FileInfo(output).Length + (File.Exists(output + ".data") ? new FileInfo(output + ".data").Length : 0);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {changed} | {seconds:F1} | {(seconds < LargeBudgetSeconds ? "yes" : "**no**")} | {outBytes:N0} | {(double)outBytes / bytes:F3}x | {peak / 1e9:F2} |"));
            targets.Add(new(BenchModels.LargeMlp, "each technique in under a minute", name, Fixed(seconds, "F1") + " s",
                changed == 0 ? NotApplied : seconds < LargeBudgetSeconds ? Met : NotMet));
        }

        Console.WriteLine();
    }

    /// <summary>Compresses one row in process, validation off; any exception becomes the row's error.</summary>
    private static SparsityRow Compress(string model, SparsityVariant variant, string path, string folder, string calibration, Func<string, (int Correct, string? Quality)> judge)
    {
        Console.Error.WriteLine($"[{model}] compressing: {variant.Name} ...");
        string output = Path.Combine(folder, FileName(variant.Name) + ".onnx");
        var clock = Stopwatch.StartNew();
        try
        {
            CompressionSettings settings = CompressionSettings.Default.Set(Compression.Core.Evaluation.EvaluationSettings.Validate, false);
            foreach (string entry in variant.Settings)
            {
                string[] pair = entry.Split('=', 2);
                Setting setting = SettingsCatalog.Find(pair[0]) ?? throw new InvalidOperationException($"No setting is named {pair[0]}.");
                settings = settings.Set(setting, pair[1].Replace(CalibrationMarker, calibration, StringComparison.Ordinal), Origin);
            }

            CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(path, output) { Settings = settings, ReportPath = output + ".report.json" });
            double seconds = clock.Elapsed.TotalSeconds;
            (int correct, string? quality) = judge(output);
            var changed = outcome.Report.Passes.Where(p => p.Changed.Count > 0).Select(p => $"{p.Pass}: {p.Changed.Count}").ToList();
            var techniques = outcome.Report.Passes.SelectMany(p => p.Techniques).ToList();
            return new SparsityRow(variant.Name, changed.Count == 0 ? "no change" : string.Join(", ", changed), output, variant, seconds, null, correct,
                new FileInfo(output).Length, ZippedBytes(output), WeightCensus.Of(output), quality) { Techniques = techniques, ReportedZeros = ReportedZeros(output + ".report.json") };
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[{model}] {variant.Name} failed: {e}");
            return new SparsityRow(variant.Name, "", output, variant, clock.Elapsed.TotalSeconds, $"{e.GetType().Name}: {FirstLine(e.Message)}", 0, 0, 0, default, null);
        }
    }

    /// <summary>Unstructured pruning's accuracy loss by criterion and amount, torch's beside: the table the issue asks for.</summary>
    private static void PrintCriteria(string model, IReadOnlyList<SparsityRow> rows, int images, TorchModel torch)
    {
        double[] amounts = [0.5, 0.75, 0.9];
        string Loss(SparsityRow? row) => row is null ? "" : row.Error is not null ? "failed" : row.Changed == "no change" ? "no change"
            : string.Create(CultureInfo.InvariantCulture, $"{100.0 * (rows[0].Correct - row.Correct) / images:F2}");
        Console.WriteLine($"### {model}: unstructured pruning, accuracy loss in points by criterion and amount (one-shot; calibrated rows on the 512 training images)");
        Console.WriteLine();
        Console.WriteLine("| criterion | " + string.Join(" | ", amounts.Select(Percent)) + " |");
        Console.WriteLine("|---|" + string.Concat(amounts.Select(_ => "---:|")));
        foreach (string series in rows.Select(r => r.Variant?.Series).OfType<string>().Distinct())
        {
            Console.WriteLine($"| {series} | " + string.Join(" | ", amounts.Select(a => Loss(rows.FirstOrDefault(r => r.Variant?.Series == series && r.Variant.TorchAmount == a)))) + " |");
        }

        foreach ((string method, string label) in new[] { ("l1_unstructured", "torch l1_unstructured (per layer)"), ("global_unstructured", "torch global_unstructured (L1)") })
        {
            Console.WriteLine($"| {label} | " + string.Join(" | ", amounts.Select(a => torch.Find(method, a) is { } t ? Fixed(t.LossPoints, "F2") : "")) + " |");
        }

        Console.WriteLine();
    }

    private const string Met = "met";
    private const string NotMet = "**not met**";
    private const string Failed = "**failed**";
    private const string NotApplied = "not applied (no change)";

    /// <summary>The issue's targets on one digits model, each from the rows that aim at it (the best of them where several do).</summary>
    private static void AddDigitsTargets(string model, IReadOnlyList<SparsityRow> rows, int images, TorchModel torch, IReadOnlyDictionary<string, double> latency, List<TargetCheck> targets)
    {
        SparsityRow original = rows[0];
        double Loss(SparsityRow row) => 100.0 * (original.Correct - row.Correct) / images;
        bool Calibrated(SparsityRow row) => row.Variant!.Settings.Any(s => s.StartsWith("CalibrationData=", StringComparison.Ordinal));
        var variants = rows.Where(r => r.Variant is not null).ToList();

        void LossTarget(string target, IEnumerable<SparsityRow> candidates, double limit)
        {
            var list = candidates.ToList();
            if (list.Count == 0)
            {
                return;
            }

            SparsityRow? best = list.Where(r => r.Error is null && r.Changed != "no change").OrderBy(Loss).FirstOrDefault();
            if (best is null)
            {
                targets.Add(new(model, target, string.Join(" / ", list.Select(r => r.Name)), list.All(r => r.Error is not null) ? "failed" : "no change", list.All(r => r.Error is not null) ? Failed : NotApplied));
                return;
            }

            targets.Add(new(model, target, best.Name, Fixed(Loss(best), "F2") + " points", Loss(best) <= limit + 1e-9 ? Met : NotMet));
        }

        foreach ((double amount, int share) in new[] { (0.75, 3), (0.9, 4) })
        {
            TorchRow? reference = torch.Find("l1_unstructured", amount);
            if (reference is null)
            {
                continue;
            }

            double limit = Math.Max(0, reference.LossPoints) / share;
            LossTarget(string.Create(CultureInfo.InvariantCulture, $"{Percent(amount)} unstructured, calibrated: loss <= 1/{share} of torch l1_unstructured's {reference.LossPoints:F2} = {limit:F2}"),
                variants.Where(r => r.Variant!.Group == "unstructured" && r.Variant.TorchAmount == amount && r.Variant.TorchMethod == "l1_unstructured" && Calibrated(r)), limit);
        }

        LossTarget("2:4 with distillation: loss <= 1 point", variants.Where(r => r.Variant!.Group == "n:m" && r.Variant.Settings.Contains("Distill=true")), 1);
        LossTarget("low-rank 50% with distillation: loss <= 1 point", variants.Where(r => r.Variant!.Group == "low-rank" && r.Variant.Settings.Contains("Distill=true")), 1);
        var channel = variants.Where(r => r.Variant!.Group == "channel" && r.Variant.Settings.Contains("Distill=true")).ToList();
        LossTarget("channel pruning with distillation: loss <= 1.5 points", channel, 1.5);
        if (model == BenchModels.DigitsCnn)
        {
            foreach (SparsityRow row in channel)
            {
                targets.Add(LatencyTarget(model, row, latency));
            }
        }

        LossTarget("cluster 4 bits per tensor: loss <= 0.5 points", variants.Where(r => r.Name == "cluster 4 bits per tensor"), 0.5);
        foreach (SparsityRow row in variants.Where(r => r.Variant!.Group == "combined"))
        {
            string target = "prune + cluster (+ quantize): zipped >= 35x smaller, loss <= 1 point";
            targets.Add(row.Error is not null ? new(model, target, row.Name, "failed", Failed)
                : row.Changed == "no change" ? new(model, target, row.Name, "no change", NotApplied)
                : new(model, target, row.Name, string.Create(CultureInfo.InvariantCulture, $"{(double)original.ZippedBytes / row.ZippedBytes:F1}x, {Loss(row):F2} points"),
                    (double)original.ZippedBytes / row.ZippedBytes >= 35 && Loss(row) <= 1 ? Met : NotMet));
        }
    }

    private static TargetCheck LatencyTarget(string model, SparsityRow row, IReadOnlyDictionary<string, double> latency)
    {
        const string Target = "channel pruning: median latency <= 0.75x the original's";
        return row.Error is not null ? new(model, Target, row.Name, "failed", Failed)
            : row.Changed == "no change" ? new(model, Target, row.Name, "no change", NotApplied)
            : latency.TryGetValue(row.Name, out double ratio) ? new(model, Target, row.Name, Fixed(ratio, "F2") + "x", ratio <= 0.75 ? Met : NotMet)
            : new(model, Target, row.Name, "not measured", Failed);
    }

    private static void PrintTargets(IReadOnlyList<TargetCheck> targets)
    {
        if (targets.Count == 0)
        {
            return;
        }

        Console.WriteLine("### The issue's targets (a row that changed nothing is not applied; where several rows aim at a target, the best)");
        Console.WriteLine();
        Console.WriteLine("| model | target | row | measured | verdict |");
        Console.WriteLine("|---|---|---|---:|---|");
        foreach (TargetCheck check in targets)
        {
            Console.WriteLine($"| {check.Model} | {check.Target} | {check.Row} | {check.Measured} | {check.Verdict} |");
        }

        Console.WriteLine();
    }

    /// <summary>
    /// The share of zeros the report gives for the tensors the passes changed (each tensor's <c>sparsity</c> from the last
    /// pass that reports it, weighted by its elements), or null where no pass reports one. Read from the report's JSON, so
    /// that it works whether or not this build's <c>TensorChange</c> has the field.
    /// </summary>
    private static double? ReportedZeros(string reportPath)
    {
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(reportPath));
        var tensors = new Dictionary<string, (long Elements, double Sparsity)>(StringComparer.Ordinal);
        foreach (JsonElement pass in report.RootElement.GetProperty("passes").EnumerateArray())
        {
            if (!pass.TryGetProperty("changed", out JsonElement changed))
            {
                continue;
            }

            foreach (JsonElement tensor in changed.EnumerateArray())
            {
                if (tensor.TryGetProperty("sparsity", out JsonElement sparsity) && sparsity.ValueKind == JsonValueKind.Number)
                {
                    long elements = tensor.GetProperty("shape").EnumerateArray().Aggregate(1L, (product, d) => product * d.GetInt64());
                    tensors[tensor.GetProperty("name").GetString()!] = (elements, sparsity.GetDouble());
                }
            }
        }

        long total = tensors.Values.Sum(t => t.Elements);
        return total == 0 ? null : tensors.Values.Sum(t => t.Elements * t.Sparsity) / total;
    }

    /// <summary>The technique sentences the passes reported, one line per row that changed anything.</summary>
    private static void PrintTechniques(IReadOnlyList<SparsityRow> rows)
    {
        var described = rows.Where(r => r.Techniques.Count > 0).ToList();
        if (described.Count == 0)
        {
            Console.WriteLine("No row changed the model.");
            Console.WriteLine();
            return;
        }

        Console.WriteLine("What the passes report per row:");
        Console.WriteLine();
        foreach (SparsityRow row in described)
        {
            Console.WriteLine($"- {row.Name}: {string.Join(" ", row.Techniques)}");
        }

        Console.WriteLine();
    }

    /// <summary>Median latency of the original and the rows, interleaved with their order rotated every round.</summary>
    private static IReadOnlyDictionary<string, double> PrintLatency(string model, IReadOnlyList<SparsityRow> rows, OnnxTensor[] inputs, string[] names, bool fast, BenchmarkOptions options)
    {
        var ratios = new Dictionary<string, double>(StringComparer.Ordinal);
        if (rows.Count < 2)
        {
            return ratios;
        }

        Console.Error.WriteLine($"[{model}] latency ...");
        var sessions = new List<OnnxSession>();
        try
        {
            foreach (SparsityRow row in rows)
            {
                sessions.Add(new OnnxSession(row.Path, new OnnxSessionOptions { IntraOpThreads = 1 }));
            }

            var timings = sessions.Select(_ => new Timing()).ToArray();
            for (int round = -options.Warmup; round < options.Iterations; round++)
            {
                for (int k = 0; k < sessions.Count; k++)
                {
                    int index = (round + options.Warmup + k) % sessions.Count;
                    for (int repeat = 0; repeat < (fast ? BenchModel.SmallModelScale : 1); repeat++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        sessions[index].Run(names, inputs, []);
                        if (round >= 0)
                        {
                            timings[index].Add(Stopwatch.GetElapsedTime(start));
                        }
                    }
                }
            }

            Console.WriteLine($"### {model}: ONNX Runtime latency, batch 1, 1 intra-op thread");
            Console.WriteLine();
            Console.WriteLine("| variant | median ms | p90 ms | latency vs fp32 |");
            Console.WriteLine("|---|---:|---:|---:|");
            for (int i = 0; i < rows.Count; i++)
            {
                ratios[rows[i].Name] = timings[i].Median / timings[0].Median;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {rows[i].Name} | {timings[i].Median:F4} | {timings[i].P90:F4} | {timings[i].Median / timings[0].Median:F2}x |"));
            }

            Console.WriteLine();
        }
        catch (Exception e)
        {
            Console.WriteLine($"Latency of {model} failed: {e.GetType().Name}: {FirstLine(e.Message)}");
            Console.WriteLine();
        }
        finally
        {
            foreach (OnnxSession session in sessions)
            {
                session.Dispose();
            }
        }

        return ratios;
    }

    /// <summary>How many of the test images the model at <paramref name="path"/> classifies right, in ONNX Runtime.</summary>
    private static int Accuracy(string path, DigitsTestSet digits)
    {
        using var session = new OnnxSession(path, new OnnxSessionOptions { IntraOpThreads = 1 });
        var all = new OnnxTensor<float>(digits.Images, [digits.Count, DigitsTestSet.Pixels]);
        ReadOnlySpan<float> logits = session.Run(["pixels"], [all], ["logits"])[0].As<float>().Span;
        int correct = 0;
        for (int i = 0; i < digits.Count; i++)
        {
            correct += ArgMax(logits.Slice(i * 10, 10)) == digits.Labels[i] ? 1 : 0;
        }

        return correct;
    }

    /// <summary>The lowest output cosine and the top-1 agreement against the original, over the input sets.</summary>
    private static string CompareOutputs(OnnxSession session, OnnxSession original, IEnumerable<OnnxTensor[]> inputSets)
    {
        double lowest = 1;
        int agree = 0, rows = 0;
        foreach (OnnxTensor[] inputs in inputSets)
        {
            ReadOnlySpan<float> e = original.Run(["image"], inputs, [])[0].As<float>().Span;
            ReadOnlySpan<float> a = session.Run(["image"], inputs, [])[0].As<float>().Span;
            double dot = 0, ne = 0, na = 0;
            for (int i = 0; i < e.Length; i++)
            {
                dot += (double)e[i] * a[i];
                ne += (double)e[i] * e[i];
                na += (double)a[i] * a[i];
            }

            lowest = Math.Min(lowest, ne == 0 && na == 0 ? 1 : dot / Math.Sqrt(ne * na));
            agree += ArgMax(e) == ArgMax(a) ? 1 : 0;
            rows++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{lowest:F5}, {100.0 * agree / rows:F1}%");
    }

    /// <summary>The size of a zip archive holding the file alone (deflate, as a zip tool's default level would).</summary>
    private static long ZippedBytes(string path)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            // One entry name for every variant, so that equal files zip to equal sizes.
            ZipArchiveEntry entry = zip.CreateEntry("model.onnx", CompressionLevel.Optimal);
            entry.LastWriteTime = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
            using Stream stream = entry.Open();
            using FileStream file = File.OpenRead(path);
            file.CopyTo(stream);
        }

        return buffer.Length;
    }

    private static string TorchCell(TorchModel torch, SparsityVariant? variant) =>
        variant is { TorchMethod: { } method } && torch.Find(method, variant.TorchAmount) is { } row
            ? string.Create(CultureInfo.InvariantCulture, $"{method} {Percent(row.Amount)}: {row.LossPoints:F2}")
            : "";

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }

    private static float[] Uniform(int seed, int count)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return values;
    }

    private static string Percent(double amount) => string.Create(CultureInfo.InvariantCulture, $"{100 * amount:0.#}%");

    private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Fixed(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static string Seconds(double seconds) => seconds > 0 ? Fixed(seconds, "F2") : "-";

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";

    /// <summary>Text safe inside a Markdown table cell: one line, no bars, at most 160 characters.</summary>
    private static string Cell(string text)
    {
        string line = FirstLine(text).Replace("|", "/", StringComparison.Ordinal);
        return line.Length <= 160 ? line : line[..157] + "...";
    }

    private static string FileName(string name) =>
        new string(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Replace("--", "-", StringComparison.Ordinal).Trim('-');
}

/// <summary>One row of the sparsity table: the settings, as <c>Name=value</c> (the calibration folder as <c>{calibration}</c>), and torch's row to compare with.</summary>
/// <param name="Name">The row's label.</param>
/// <param name="Group">The technique it measures.</param>
/// <param name="Settings">The settings given to the compressor.</param>
/// <param name="TorchMethod">torch's pruning at the same amount (<c>l1_unstructured</c>, <c>global_unstructured</c>, <c>ln_structured</c>), or null.</param>
/// <param name="TorchAmount">The amount of torch's row.</param>
/// <param name="Latency">True when the row's latency is measured against the original.</param>
internal sealed record SparsityVariant(string Name, string Group, string[] Settings, string? TorchMethod = null, double TorchAmount = 0, bool Latency = false)
{
    /// <summary>For the unstructured rows: the criterion and how it ran, a row of the table of criteria by amount.</summary>
    public string? Series { get; init; }
}

/// <summary>One of the issue's targets, measured.</summary>
/// <param name="Model">The model.</param>
/// <param name="Target">What the issue asks.</param>
/// <param name="Row">The row that measured it.</param>
/// <param name="Measured">The figure.</param>
/// <param name="Verdict">Met, not met, failed, or not applied.</param>
internal sealed record TargetCheck(string Model, string Target, string Row, string Measured, string Verdict);

/// <summary>What one row measured.</summary>
internal sealed record SparsityRow(string Name, string Changed, string Path, SparsityVariant? Variant, double Seconds, string? Error, int Correct, long Bytes, long ZippedBytes, WeightCensus Census, string? Quality)
{
    /// <summary>The technique sentences the passes reported.</summary>
    public IReadOnlyList<string> Techniques { get; init; } = [];

    /// <summary>The share of zeros in the changed tensors as the report gives it, or null.</summary>
    public double? ReportedZeros { get; init; }
}

/// <summary>
/// The weights of a model stored as float or int8 (initializers of rank 2 and more) and the share of them that are exactly
/// zero (a symmetric int8 level 0 is a zero weight). Other forms (packed 4-bit, clustered indices) are not counted: their
/// zeros are in the report's column.
/// </summary>
/// <param name="Weights">How many elements.</param>
/// <param name="ZeroShare">The share of zeros among them.</param>
internal readonly record struct WeightCensus(long Weights, double ZeroShare)
{
    public static WeightCensus Of(string path)
    {
        ModelProto model = OnnxModelFile.Load(path);
        long total = 0, zeros = 0;
        foreach (TensorProto tensor in model.Graph.Initializer)
        {
            if (tensor.Dims.Count < 2)
            {
                continue;
            }

            if (tensor.DataType == (int)DataType.Float)
            {
                float[] values = tensor.ToArray<float>();
                total += values.Length;
                foreach (float v in values)
                {
                    zeros += v == 0 ? 1 : 0;
                }
            }
            else if (tensor.DataType == (int)DataType.Int8)
            {
                sbyte[] values = tensor.ToArray<sbyte>();
                total += values.Length;
                foreach (sbyte v in values)
                {
                    zeros += v == 0 ? 1 : 0;
                }
            }
        }

        return new WeightCensus(total, total == 0 ? 0 : (double)zeros / total);
    }
}

/// <summary>bench/sparsity/torch_baseline.json, as torch_baseline.py writes it.</summary>
internal sealed class TorchBaseline
{
    public required string TorchVersion { get; init; }

    public required int TestImages { get; init; }

    public required int CalibrationSamples { get; init; }

    public required IReadOnlyDictionary<string, TorchModel> Models { get; init; }

    public static TorchBaseline Load(string path)
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement root = json.RootElement;
        var models = new Dictionary<string, TorchModel>(StringComparer.Ordinal);
        foreach (JsonProperty model in root.GetProperty("models").EnumerateObject())
        {
            var rows = model.Value.GetProperty("rows").EnumerateArray().Select(r => new TorchRow(
                r.GetProperty("method").GetString()!, r.GetProperty("amount").GetDouble(), r.GetProperty("correct").GetInt32(),
                r.GetProperty("loss_points").GetDouble(), r.GetProperty("weight_sparsity").GetDouble())).ToList();
            models[model.Name] = new TorchModel(model.Value.GetProperty("original").GetProperty("correct").GetInt32(), rows);
        }

        return new TorchBaseline
        {
            TorchVersion = root.GetProperty("torch").GetString()!,
            TestImages = root.GetProperty("test_images").GetInt32(),
            CalibrationSamples = root.GetProperty("calibration").GetProperty("samples").GetInt32(),
            Models = models,
        };
    }
}

/// <summary>torch's rows for one model.</summary>
/// <param name="OriginalCorrect">Test images the unpruned model gets right in torch.</param>
/// <param name="Rows">One per method and amount.</param>
internal sealed record TorchModel(int OriginalCorrect, IReadOnlyList<TorchRow> Rows)
{
    public TorchRow? Find(string method, double amount) => Rows.FirstOrDefault(r => r.Method == method && Math.Abs(r.Amount - amount) < 1e-9);
}

/// <summary>One torch pruning: its accuracy loss in points and the zeros it left in the Linear and Conv weights.</summary>
internal sealed record TorchRow(string Method, double Amount, int Correct, double LossPoints, double WeightSparsity);
