using System.Diagnostics;
using System.Globalization;
using Compression.Core;
using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Benchmarks;

/// <summary>
/// The quantization benchmark: compresses each model with the real compressor in every quantization form, then measures
/// in ONNX Runtime, with its default session options unless a variant's signature asks for entries: file size, session
/// memory (in a child process per variant), median latency (variants interleaved, their order rotated every round), and
/// quality against the fp32 original (accuracy on the digits test split; elsewhere output cosine and top-1 agreement).
/// The naive floor is per-channel round-to-nearest int8 of the same weights, applied in float (so only its accuracy is
/// meaningful).
/// </summary>
internal static class BenchmarkCommand
{
    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == ChildMode.SessionMemory)
        {
            return ChildMode.MeasureSession(args[1..]);
        }

        if (args.Length > 0 && args[0] == ChildMode.Compress)
        {
            return ChildMode.MeasureCompression(args[1..]);
        }

        if (args.Length > 0 && args[0] == "--lowrank")
        {
            return LowRankBenchmark.Run(args[1..]);
        }

        BenchmarkOptions? options = BenchmarkOptions.Parse(args, Console.Error);
        if (options is null)
        {
            return args.Any(a => a is "-h" or "--help") ? 0 : 2;
        }

        if (options.CacheHits > 0)
        {
            return CacheHitBenchmark.Run(Path.Combine(Path.GetTempPath(), $"compression-bench-cache-{Environment.ProcessId}"), options.CacheHits);
        }

        if (options.Search)
        {
            return SearchBenchmark.Run(options);
        }

        if (options.Sparsity)
        {
            return SparsityBenchmark.Run(options);
        }

        if (options.Build)
        {
            return BuildBenchmark.Run(options);
        }

        if (options.Huge)
        {
            return HugeCompressionCost.Run(Path.Combine(options.HugeWork ?? Path.GetTempPath(), $"compression-bench-huge-{Environment.ProcessId}"));
        }

        string work = Path.Combine(AppContext.BaseDirectory, "bench-work");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        Console.WriteLine($"ONNX Runtime {OnnxRuntimeLibrary.Version} ({OnnxRuntimeLibrary.LoadedPath}), default session options but " +
            (options.Threads == 1 ? "1 intra-op thread" : $"{(options.Threads == 0 ? "the default number of" : options.Threads.ToString(CultureInfo.InvariantCulture))} intra-op threads without spinning"));
        Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical processors, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine($"{options.Iterations} timed runs after {options.Warmup} warm-up runs per variant (x{BenchModel.SmallModelScale} for models under 1 ms); batch {options.Batch}{(options.Batch == 1 ? string.Empty : " (the ResNet and the transformer: 1)")}.");
        Console.WriteLine();

        var rows = new List<Row>();
        foreach (BenchModel model in BenchModels.Create(options, work))
        {
            if (!options.Models.Contains(model.Layer ? BenchModels.Layers : model.Name))
            {
                continue;
            }

            Console.Error.WriteLine($"[{model.Name}] {model.Path} ({new FileInfo(model.Path).Length:N0} bytes)");
            IReadOnlyList<Prepared> variants = Prepare(model, work, options);
            rows.AddRange(Measure(model, variants, options));
            PrintTable(rows.Where(r => r.Model == model.Name).ToList());
            Console.WriteLine();
        }

        return 0;
    }

    private static IReadOnlyList<Prepared> Prepare(BenchModel model, string work, BenchmarkOptions options)
    {
        string folder = Directory.CreateDirectory(Path.Combine(work, model.Name)).FullName;
        var prepared = new List<Prepared>
        {
            new("fp32 original", model.Path, new Dictionary<string, string>(), 0, Measured: true),
        };
        if (!model.Large && !model.Layer)
        {
            string naive = Path.Combine(folder, "naive.onnx");
            OnnxModelFile.Save(NaiveRounding.Apply(OnnxModelFile.Load(model.Path)), naive);
            prepared.Add(new("naive int8 RTN per channel (accuracy floor, in float)", naive, new Dictionary<string, string>(), 0, Measured: false));
        }

        foreach (Variant variant in Variants(model))
        {
            Console.Error.WriteLine($"[{model.Name}] compressing: {variant.Name} ...");
            string output = Path.Combine(folder, variant.File + ".onnx");
            var clock = Stopwatch.StartNew();
            CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model.Path, output)
            {
                Settings = variant.Settings.Set(EvaluationSettings.Validate, false),
                ReportPath = output + ".report.json",
            });
            double seconds = clock.Elapsed.TotalSeconds;
            IReadOnlyDictionary<string, string> config = variant.WithoutSessionEntries ? new Dictionary<string, string>() : outcome.Signature.SessionConfig;
            prepared.Add(new(variant.Name, output, config, seconds, Measured: true));
        }

        return prepared;
    }

    private static IEnumerable<Variant> Variants(BenchModel model)
    {
        CompressionSettings defaults = CompressionSettings.Default;
        yield return new("int8 (default: dynamic MatMulInteger; Conv folded)", "int8", defaults);
        yield return new("int8 weight-only (MatMulNBits 8-bit)", "int8-weight-only", defaults.Set(QuantizationSettings.QuantizeMode, QuantizationSettings.WeightOnly));
        if (model.Layer)
        {
            yield return new("int4 (MatMulNBits, blocks of 32)", "int4", defaults.Set(QuantizationSettings.Quantize, QuantizationSettings.Int4));
            yield break;
        }

        yield return new("int8 StandardOps (DequantizeLinear), ONNX Runtime defaults", "int8-standard", defaults.Set(QuantizationSettings.StandardOps, true), WithoutSessionEntries: true);
        yield return new("int8 StandardOps + session.disable_quant_qdq=1", "int8-standard", defaults.Set(QuantizationSettings.StandardOps, true));
        yield return new("int4 (MatMulNBits, blocks of 32)", "int4", defaults.Set(QuantizationSettings.Quantize, QuantizationSettings.Int4));
        yield return new("int4 StandardOps (blocked DequantizeLinear, opset 21)", "int4-standard", defaults
            .Set(QuantizationSettings.Quantize, QuantizationSettings.Int4).Set(QuantizationSettings.StandardOps, true));
        yield return new("uint4 (MatMulNBits, zero points)", "uint4", defaults.Set(QuantizationSettings.Quantize, QuantizationSettings.UInt4));
        yield return new("fp16 (widened to float at load)", "fp16", defaults.Set(QuantizationSettings.Quantize, QuantizationSettings.Fp16));
        if (model.Calibration is { } calibration)
        {
            yield return new("int8 static QDQ (calibrated)", "int8-static", defaults
                .Set(QuantizationSettings.QuantizeMode, QuantizationSettings.Static)
                .Set(EvaluationSettings.CalibrationData, calibration));
            if (model.RealCalibration)
            {
                yield return new("int4 GPTQ (calibrated on the first 180 test images)", "int4-gptq", defaults
                    .Set(QuantizationSettings.Quantize, QuantizationSettings.Int4)
                    .Set(QuantizationSettings.Algorithm, QuantizationSettings.GptqAlgorithm)
                    .Set(EvaluationSettings.CalibrationData, calibration));
            }
        }
    }

    private static List<Row> Measure(BenchModel model, IReadOnlyList<Prepared> variants, BenchmarkOptions options)
    {
        Console.Error.WriteLine($"[{model.Name}] session memory, one child process per variant ...");
        var memory = variants.Select(v => v.Measured ? ChildMode.SessionMemoryOf(v.Path, v.SessionConfig) : double.NaN).ToArray();

        var sessions = new List<OnnxSession>();
        try
        {
            foreach (Prepared variant in variants)
            {
                var sessionOptions = new OnnxSessionOptions { IntraOpThreads = options.Threads };
                if (options.Threads != 1)
                {
                    // Each session's idle pool threads spin after a run; interleaved, they would steal the next variant's cores.
                    sessionOptions.ConfigEntries["session.intra_op.allow_spinning"] = "0";
                }

                foreach (KeyValuePair<string, string> entry in variant.SessionConfig)
                {
                    sessionOptions.ConfigEntries[entry.Key] = entry.Value;
                }

                sessions.Add(new OnnxSession(variant.Path, sessionOptions));
            }

            Console.Error.WriteLine($"[{model.Name}] quality ...");
            Quality[] quality = sessions.Select(s => model.Judge(s, sessions[0])).ToArray();

            Console.Error.WriteLine($"[{model.Name}] latency ...");
            string[] names = model.InputNames;
            OnnxTensor[] inputs = model.LatencyInputs;
            int scale = model.Large ? 1 : BenchModel.SmallModelScale;
            var timings = sessions.Select(_ => new Timing()).ToArray();
            var measured = Enumerable.Range(0, sessions.Count).Where(i => variants[i].Measured).ToArray();
            for (int round = -options.Warmup; round < options.Iterations; round++)
            {
                for (int k = 0; k < measured.Length; k++)
                {
                    int index = measured[(round + options.Warmup + k) % measured.Length];
                    for (int repeat = 0; repeat < (model.Fast ? scale : 1); repeat++)
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

            long originalBytes = new FileInfo(variants[0].Path).Length;
            double originalMedian = timings[0].Median;
            return variants.Select((v, i) =>
            {
                long bytes = new FileInfo(v.Path).Length;
                return new Row(model.Name, v.Name, bytes, (double)bytes / originalBytes, memory[i], timings[i].Median,
                    timings[i].Median / originalMedian, quality[i], v.CompressSeconds, v.Measured);
            }).ToList();
        }
        finally
        {
            foreach (OnnxSession session in sessions)
            {
                session.Dispose();
            }
        }
    }

    private static void PrintTable(IReadOnlyList<Row> rows)
    {
        Row original = rows[0];
        Console.WriteLine($"### {original.Model}");
        Console.WriteLine();
        Console.WriteLine($"| variant | file bytes | file vs fp32 | session MB | memory vs fp32 | median ms | latency vs fp32 | {original.Quality.Name} | compress s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Row row in rows)
        {
            string memory = double.IsNaN(row.SessionBytes) ? "-" : (row.SessionBytes / 1e6).ToString("F1", CultureInfo.InvariantCulture);
            string memoryRatio = double.IsNaN(row.SessionBytes) ? "-" : (row.SessionBytes / original.SessionBytes).ToString("F2", CultureInfo.InvariantCulture) + "x";
            string latency = row.Measured ? row.MedianMs.ToString("F3", CultureInfo.InvariantCulture) : "-";
            string latencyRatio = row.Measured ? row.LatencyRatio.ToString("F2", CultureInfo.InvariantCulture) + "x" : "-";
            string seconds = row.CompressSeconds > 0 ? row.CompressSeconds.ToString("F1", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Variant} | {row.Bytes:N0} | {row.SizeRatio:F3}x | {memory} | {memoryRatio} | {latency} | {latencyRatio} | {row.Quality.Text} | {seconds} |"));
        }
    }

    private sealed record Variant(string Name, string File, CompressionSettings Settings, bool WithoutSessionEntries = false);

    private sealed record Prepared(string Name, string Path, IReadOnlyDictionary<string, string> SessionConfig, double CompressSeconds, bool Measured);

    private sealed record Row(string Model, string Variant, long Bytes, double SizeRatio, double SessionBytes, double MedianMs, double LatencyRatio, Quality Quality, double CompressSeconds, bool Measured);
}
