using System.Diagnostics;
using System.Globalization;
using Compression.Core;
using Compression.Onnx;
using Compression.Core.Runtime;

namespace Compression.Benchmarks;

/// <summary>
/// Proves (or disproves) "the compressed model is never slower than the original": compresses each model with the
/// real compressor, then times the original and the compressed model in ONNX Runtime, with one intra-op thread and
/// with ONNX Runtime's default, after warm-up runs, interleaving the variants so that noise hits them alike.
/// </summary>
internal static class BenchmarkCommand
{
    /// <summary>The digits MLP runs in about 10 microseconds, so it gets this many times the iterations.</summary>
    private const int DigitsIterationScale = 100;

    public static int Run(string[] args)
    {
        BenchmarkOptions? options = BenchmarkOptions.Parse(args, Console.Error);
        if (options is null)
        {
            return args.Any(a => a is "-h" or "--help") ? 0 : 2;
        }

        string work = Path.Combine(AppContext.BaseDirectory, "bench-work");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        Console.WriteLine($"ONNX Runtime {OnnxRuntimeLibrary.Version} ({OnnxRuntimeLibrary.LoadedPath})");
        Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical processors, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine($"{options.Iterations} timed runs after {options.Warmup} warm-up runs per model, variant and thread setting " +
            $"({DigitsIterationScale}x as many for the digits MLP); the compressor runs {options.CompressRuns} times per model.");
        Console.WriteLine();

        var models = new List<BenchModel> { Transformer(options, work) };
        if (options.Digits)
        {
            models.Add(Digits(work));
        }

        var rows = new List<Row>();
        var compressorRows = new List<CompressorRow>();
        foreach (BenchModel model in models)
        {
            Console.Error.WriteLine($"[{model.Name}] compressing {model.Path} ...");
            (CompressionOutcome outcome, CompressorRow compressorRow) = Compress(model, work, options.CompressRuns);
            compressorRows.Add(compressorRow);
            foreach (int threads in new[] { 1, 0 })
            {
                Console.Error.WriteLine($"[{model.Name}] timing with {(threads == 0 ? "default" : threads.ToString(CultureInfo.InvariantCulture))} intra-op threads ...");
                rows.AddRange(TimeVariants(model, outcome, threads, options));
            }
        }

        PrintTable(rows);
        Console.WriteLine();
        PrintCompressor(compressorRows);
        Console.WriteLine();
        PrintVerdict(rows);
        return 0;
    }

    private static BenchModel Transformer(BenchmarkOptions options, string work)
    {
        OnnxTensor<float> input = new(NormalValues(7, TransformerModel.Batch * TransformerModel.Sequence * TransformerModel.Hidden),
            [TransformerModel.Batch, TransformerModel.Sequence, TransformerModel.Hidden]);
        if (options.ModelPath is not null)
        {
            return new BenchModel("transformer", Path.GetFullPath(options.ModelPath), TransformerModel.InputName, input, work);
        }

        string path = Path.Combine(work, "transformer.onnx");
        var build = Stopwatch.StartNew();
        OnnxModelFile.Save(TransformerModel.Build(), path);
        Console.Error.WriteLine($"[transformer] built in C# in {build.Elapsed.TotalSeconds:F1} s: {path}");
        return new BenchModel("transformer", path, TransformerModel.InputName, input, work);
    }

    private static BenchModel Digits(string work)
    {
        string root = RepositoryRoot();
        string source = Path.Combine(root, "samples", "Digits", "Models", "digits.onnx");
        string csv = Path.Combine(root, "samples", "Digits", "Data", "digits-test.csv");
        // One image (the first of the test split), as an app classifies them.
        float[] pixels = File.ReadLines(csv).Skip(1).First().Split(',').Skip(1).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        string path = Path.Combine(work, "digits.onnx");
        File.Copy(source, path);
        return new BenchModel("digits", path, "pixels", new OnnxTensor<float>(pixels, [1, pixels.Length]), work) { IterationScale = DigitsIterationScale };
    }

    private static (CompressionOutcome Outcome, CompressorRow Row) Compress(BenchModel model, string work, int runs)
    {
        var validated = new Timing();
        var unvalidated = new Timing();
        CompressionOutcome? outcome = null;
        for (int run = 0; run < runs; run++)
        {
            var clock = Stopwatch.StartNew();
            outcome = ModelCompressor.Compress(new CompressionRequest(model.Path, model.CompressedPath)
            {
                ReportPath = model.CompressedPath + ".report.json",
            });
            validated.Add(clock.Elapsed);

            clock.Restart();
            ModelCompressor.Compress(new CompressionRequest(model.Path, Path.Combine(work, "unvalidated", model.Name + ".onnx"))
            {
                Settings = CompressionSettings.Default.Set(Compression.Core.Evaluation.EvaluationSettings.Validate, false),
            });
            unvalidated.Add(clock.Elapsed);
        }

        return (outcome!, new CompressorRow(model.Name, outcome!.Report.Size.Original, outcome.Report.Changed.Count,
            outcome.Report.Changed.Sum(w => w.BytesBefore / sizeof(float)), unvalidated.Median, validated.Median,
            outcome.Report.Validation?.Outputs.Min(o => o.CosineSimilarity ?? 1) ?? double.NaN));
    }

    private static IEnumerable<Row> TimeVariants(BenchModel model, CompressionOutcome outcome, int threads, BenchmarkOptions options)
    {
        var variants = new List<Variant>
        {
            new("original fp32", model.Path, new Dictionary<string, string>()),
            new("int8, session config from the signature", model.CompressedPath, outcome.Signature.SessionConfig),
            new("int8, no session config (QDQ kept)", model.CompressedPath, new Dictionary<string, string>()),
            // A/A control: a second session of the original shows how far two identical sessions drift on this machine.
            new("original fp32 again (A/A control)", model.Path, new Dictionary<string, string>()),
        };

        var sessions = new List<(Variant Variant, OnnxSession Session, double LoadMs)>();
        try
        {
            foreach (Variant variant in variants)
            {
                var sessionOptions = new OnnxSessionOptions { IntraOpThreads = threads };
                foreach (KeyValuePair<string, string> entry in variant.SessionConfig)
                {
                    sessionOptions.ConfigEntries[entry.Key] = entry.Value;
                }

                var load = Stopwatch.StartNew();
                var session = new OnnxSession(variant.Path, sessionOptions);
                sessions.Add((variant, session, load.Elapsed.TotalMilliseconds));
            }

            string[] names = [model.InputName];
            OnnxTensor[] inputs = [model.Input];
            var reference = sessions[0].Session.Run(names, inputs, []);
            var cosines = sessions.Select(s => Cosine(reference[0], s.Session.Run(names, inputs, [])[0])).ToArray();
            for (int i = 0; i < options.Warmup * model.IterationScale; i++)
            {
                foreach ((_, OnnxSession session, _) in sessions)
                {
                    session.Run(names, inputs, []);
                }
            }

            var timings = sessions.Select(_ => new Timing()).ToArray();
            int iterations = options.Iterations * model.IterationScale;
            for (int i = 0; i < iterations; i++)
            {
                // Rotate the order every round so that no variant always runs right after another.
                for (int k = 0; k < sessions.Count; k++)
                {
                    int index = (i + k) % sessions.Count;
                    long start = Stopwatch.GetTimestamp();
                    sessions[index].Session.Run(names, inputs, []);
                    timings[index].Add(Stopwatch.GetElapsedTime(start));
                }
            }

            long originalBytes = new FileInfo(model.Path).Length;
            double originalMedian = timings[0].Median;
            return sessions.Select((s, i) =>
            {
                long bytes = new FileInfo(s.Variant.Path).Length;
                return new Row(model.Name, s.Variant.Name, threads, bytes, (double)bytes / originalBytes, s.LoadMs,
                    timings[i].Median, timings[i].P90, timings[i].Median / originalMedian, cosines[i]);
            }).ToList();
        }
        finally
        {
            foreach ((_, OnnxSession session, _) in sessions)
            {
                session.Dispose();
            }
        }
    }

    private static void PrintTable(IReadOnlyList<Row> rows)
    {
        Console.WriteLine("| model | variant | intra-op threads | size bytes | ratio | load ms | median ms | p90 ms | median vs original | output cosine |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Row row in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Model} | {row.Variant} | {(row.Threads == 0 ? "default" : row.Threads.ToString(CultureInfo.InvariantCulture))} | {row.Bytes:N0} | {row.Ratio:0.000} | {row.LoadMs:0.0} | {row.MedianMs:0.000} | {row.P90Ms:0.000} | {row.Relative:0.00}x | {row.Cosine:0.000000} |"));
        }
    }

    private static void PrintCompressor(IReadOnlyList<CompressorRow> rows)
    {
        Console.WriteLine("| compressor on | original bytes | weights quantized | weight values | median s, no validation | median s, with validation | lowest validation cosine |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (CompressorRow row in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Model} | {row.OriginalBytes:N0} | {row.Weights} | {row.Values:N0} | {row.UnvalidatedMs / 1000:0.000} | {row.ValidatedMs / 1000:0.000} | {row.LowestCosine:0.000000} |"));
        }
    }

    private static void PrintVerdict(IReadOnlyList<Row> rows)
    {
        foreach (IGrouping<(string Model, int Threads), Row> group in rows.GroupBy(r => (r.Model, r.Threads)))
        {
            Row compressed = group.Single(r => r.Variant.StartsWith("int8, session config", StringComparison.Ordinal));
            Row control = group.Single(r => r.Variant.Contains("A/A control", StringComparison.Ordinal));
            string threads = group.Key.Threads == 0 ? "default threads" : "1 thread";
            // Slower means beyond 5% and beyond what the A/A control drifted.
            double noise = Math.Max(0.05, Math.Abs(control.Relative - 1));
            string verdict = compressed.Relative <= 1 + noise ? $"not slower (within {noise * 100:0}%, the larger of 5% and the A/A drift)" : "SLOWER";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{group.Key.Model}, {threads}: compressed, run as the generated class runs it, takes {compressed.Relative:0.00}x the original's median (A/A control {control.Relative:0.00}x): {verdict}."));
        }
    }

    private static float[] NormalValues(int seed, int count)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return values;
    }

    private static double Cosine(OnnxTensor a, OnnxTensor b)
    {
        ReadOnlySpan<float> x = a.As<float>().Span;
        ReadOnlySpan<float> y = b.As<float>().Span;
        double dot = 0, nx = 0, ny = 0;
        for (int i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            nx += (double)x[i] * x[i];
            ny += (double)y[i] * y[i];
        }

        return dot / Math.Sqrt(nx * ny);
    }

    private static string RepositoryRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Compression.Build.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("The repository root (Compression.Build.sln) was not found; run the benchmark from the repository.");
    }

    /// <summary>A model to bench; its compressed form goes to <c>WORK/compressed/NAME.onnx</c>.</summary>
    private sealed record BenchModel(string Name, string Path, string InputName, OnnxTensor Input, string Work)
    {
        /// <summary>Runs this many times the given iterations and warm-ups (a run of a small model takes microseconds).</summary>
        public int IterationScale { get; init; } = 1;

        public string CompressedPath => System.IO.Path.Combine(Work, "compressed", Name + ".onnx");
    }

    private sealed record Variant(string Name, string Path, IReadOnlyDictionary<string, string> SessionConfig);

    private sealed record Row(string Model, string Variant, int Threads, long Bytes, double Ratio, double LoadMs, double MedianMs, double P90Ms, double Relative, double Cosine);

    private sealed record CompressorRow(string Model, long OriginalBytes, int Weights, long Values, double UnvalidatedMs, double ValidatedMs, double LowestCosine);
}
