using System.Diagnostics;
using System.Globalization;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Benchmarks;

/// <summary>How close a variant's outputs are to the original's, as the table prints it.</summary>
/// <param name="Name">The column's heading.</param>
/// <param name="Text">The figure.</param>
internal sealed record Quality(string Name, string Text);

/// <summary>One model of the benchmark: its file, the inputs it is timed on, and how its quality is judged.</summary>
internal sealed class BenchModel
{
    /// <summary>Models that run in under a millisecond are timed this many times per round.</summary>
    public const int SmallModelScale = 20;

    public required string Name { get; init; }

    public required string Path { get; init; }

    public required string[] InputNames { get; init; }

    public required OnnxTensor[] LatencyInputs { get; init; }

    public required Func<OnnxSession, OnnxSession, Quality> Judge { get; init; }

    /// <summary>A calibration folder for the variants that need one (static, GPTQ), or null.</summary>
    public string? Calibration { get; init; }

    /// <summary>True when the calibration samples are real data (the digits), so that GPTQ is worth a row.</summary>
    public bool RealCalibration { get; init; }

    /// <summary>True for a model that runs in under a millisecond.</summary>
    public bool Fast { get; init; }

    /// <summary>True for the 1 GB MLP: fewer variants, no naive floor.</summary>
    public bool Large { get; init; }

    /// <summary>True for one of the single-layer models: only the MatMul forms, no naive floor.</summary>
    public bool Layer { get; init; }
}

/// <summary>The benchmark's models, built or read on demand.</summary>
internal static class BenchModels
{
    public const string DigitsMlp = "digits-mlp";
    public const string DigitsCnn = "digits-cnn";
    public const string ResNet = "resnet";
    public const string Transformer = "transformer";
    public const string LargeMlp = "large-mlp";
    public const string Layers = "layers";

    /// <summary>The single MatMul layers of <see cref="Layers"/>: input width by output width.</summary>
    public static IReadOnlyList<(int K, int N)> LayerShapes { get; } = [(64, 256), (256, 256), (256, 1024), (512, 512), (1024, 1024), (2048, 2048)];

    public static IReadOnlyList<string> Names { get; } = [DigitsMlp, DigitsCnn, ResNet, Transformer, LargeMlp, Layers];

    public static IEnumerable<BenchModel> Create(BenchmarkOptions options, string work)
    {
        string root = RepositoryRoot();
        DigitsTestSet digits = DigitsTestSet.Load(Path.Combine(root, "samples", "Digits", "Data", "digits-test.csv"));
        string calibration = Directory.CreateDirectory(Path.Combine(work, "digits-calibration")).FullName;
        OnnxDataFile.Save(TensorValues.Create<float>("pixels", [180, DigitsTestSet.Pixels], digits.Images.AsSpan(0, 180 * DigitsTestSet.Pixels)), Path.Combine(calibration, "pixels.pb"));

        if (options.Models.Contains(DigitsMlp))
        {
            yield return Digits(DigitsMlp, Path.Combine(root, "samples", "Digits", "Models", "digits.onnx"), digits, calibration, options.Batch);
        }

        if (options.Models.Contains(DigitsCnn))
        {
            yield return Digits(DigitsCnn, Path.Combine(root, "bench", "models", "digits_cnn.onnx"), digits, calibration, options.Batch);
        }

        if (options.Models.Contains(ResNet))
        {
            string path = Save(GeneratedModels.ResNet(), work, "resnet.onnx");
            OnnxTensor[] Images(int seed) => [new OnnxTensor<float>(Uniform(seed, 3 * 64 * 64), [1, 3, 64, 64])];
            yield return new BenchModel
            {
                Calibration = CalibrationFolder(work, ResNet, "image", Uniform(100, 8 * 3 * 64 * 64), [8, 3, 64, 64]),
                Name = ResNet,
                Path = path,
                InputNames = ["image"],
                LatencyInputs = Images(1),
                Judge = (session, original) => CompareOutputs(session, original, ["image"], Enumerable.Range(1, 8).Select(Images)),
            };
        }

        if (options.Models.Contains(Transformer))
        {
            string path = Save(TransformerModel.Build(embedding: true), work, "transformer.onnx");
            OnnxTensor[] Tokens(int seed)
            {
                var random = new Random(seed);
                long[] ids = Enumerable.Range(0, TransformerModel.Sequence).Select(_ => (long)random.Next(TransformerModel.Vocabulary)).ToArray();
                return [new OnnxTensor<long>(ids, [TransformerModel.Batch, TransformerModel.Sequence])];
            }

            var random = new Random(100);
            long[] calibrationIds = Enumerable.Range(0, 8 * TransformerModel.Sequence).Select(_ => (long)random.Next(TransformerModel.Vocabulary)).ToArray();
            yield return new BenchModel
            {
                Calibration = CalibrationFolder(work, Transformer, TransformerModel.TokenInputName, calibrationIds, [8, TransformerModel.Sequence]),
                Name = Transformer,
                Path = path,
                InputNames = [TransformerModel.TokenInputName],
                LatencyInputs = Tokens(1),
                Judge = (session, original) => CompareOutputs(session, original, [TransformerModel.TokenInputName], Enumerable.Range(1, 4).Select(Tokens)),
            };
        }

        if (options.Models.Contains(Layers))
        {
            foreach ((int k, int n) in LayerShapes)
            {
                string name = $"layer-{k}x{n}";
                string path = Save(GeneratedModels.Layer(k, n), work, name + ".onnx");
                OnnxTensor[] Vector(int seed, int rows) => [new OnnxTensor<float>(Uniform(seed, rows * k), [rows, k])];
                yield return new BenchModel
                {
                    Name = name,
                    Path = path,
                    InputNames = ["x"],
                    LatencyInputs = Vector(1, options.Batch),
                    Judge = (session, original) => CompareOutputs(session, original, ["x"], Enumerable.Range(1, 4).Select(seed => Vector(seed, 1))),
                    Fast = (long)k * n * options.Batch <= 1 << 20,
                    Layer = true,
                };
            }
        }

        if (options.Models.Contains(LargeMlp))
        {
            var clock = Stopwatch.StartNew();
            string path = Save(GeneratedModels.LargeMlp(), work, "large_mlp.onnx");
            Console.Error.WriteLine($"[{LargeMlp}] built and saved in {clock.Elapsed.TotalSeconds:F1} s");
            CompressionCost.Print(path, work);
            OnnxTensor[] Vector(int seed, int rows) => [new OnnxTensor<float>(Uniform(seed, rows * 4096), [rows, 4096])];
            yield return new BenchModel
            {
                Name = LargeMlp,
                Path = path,
                InputNames = ["x"],
                LatencyInputs = Vector(1, options.Batch),
                Judge = (session, original) => CompareOutputs(session, original, ["x"], Enumerable.Range(1, 4).Select(seed => Vector(seed, 1))),
                Large = true,
            };
        }
    }

    private static BenchModel Digits(string name, string path, DigitsTestSet digits, string calibration, int batch)
    {
        float[] rows = Enumerable.Range(0, batch).SelectMany(i => digits.Images.AsSpan((i % digits.Count) * DigitsTestSet.Pixels, DigitsTestSet.Pixels).ToArray()).ToArray();
        var one = new OnnxTensor<float>(rows, [batch, DigitsTestSet.Pixels]);
        return new BenchModel
        {
            Name = name,
            Path = path,
            InputNames = ["pixels"],
            LatencyInputs = [one],
            Fast = true,
            Calibration = calibration,
            RealCalibration = true,
            Judge = (session, _) =>
            {
                var all = new OnnxTensor<float>(digits.Images, [digits.Count, DigitsTestSet.Pixels]);
                ReadOnlySpan<float> logits = session.Run(["pixels"], [all], ["logits"])[0].As<float>().Span;
                int correct = 0, heldOut = 0;
                for (int i = 0; i < digits.Count; i++)
                {
                    bool right = ArgMax(logits.Slice(i * 10, 10)) == digits.Labels[i];
                    correct += right ? 1 : 0;
                    heldOut += right && i >= 180 ? 1 : 0;
                }

                return new Quality("accuracy: 360 test images (the 180 GPTQ did not see)",
                    string.Create(CultureInfo.InvariantCulture, $"{100.0 * correct / digits.Count:F2}% ({100.0 * heldOut / (digits.Count - 180):F2}%)"));
            },
        };
    }

    /// <summary>The lowest output cosine and the top-1 agreement along the last axis, against the original, over the input sets.</summary>
    private static Quality CompareOutputs(OnnxSession session, OnnxSession original, string[] names, IEnumerable<OnnxTensor[]> inputSets)
    {
        double lowestCosine = 1;
        long agree = 0, rows = 0;
        foreach (OnnxTensor[] inputs in inputSets)
        {
            OnnxTensor expected = original.Run(names, inputs, [])[0];
            OnnxTensor actual = session.Run(names, inputs, [])[0];
            ReadOnlySpan<float> e = expected.As<float>().Span;
            ReadOnlySpan<float> a = actual.As<float>().Span;
            lowestCosine = Math.Min(lowestCosine, Cosine(e, a));
            int width = (int)expected.Shape[^1];
            for (int start = 0; start < e.Length; start += width)
            {
                rows++;
                agree += ArgMax(e.Slice(start, width)) == ArgMax(a.Slice(start, width)) ? 1 : 0;
            }
        }

        return new Quality("vs fp32: lowest output cosine, top-1 agreement", string.Create(CultureInfo.InvariantCulture, $"{lowestCosine:F5}, {100.0 * agree / rows:F1}%"));
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

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return na == 0 && nb == 0 ? 1 : dot / Math.Sqrt(na * nb);
    }

    private static float[] Uniform(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
    }

    /// <summary>A calibration folder of seeded samples, stacked along the first axis in <c>input.npy</c>.</summary>
    private static string CalibrationFolder<T>(string work, string name, string input, T[] samples, long[] shape) where T : unmanaged
    {
        string folder = Directory.CreateDirectory(Path.Combine(work, name + "-calibration")).FullName;
        Compression.Testing.NumPyWriter.Write<T>(Path.Combine(folder, input + ".npy"), samples, shape);
        return folder;
    }

    private static string Save(ModelProto model, string work, string name)
    {
        string path = Path.Combine(work, name);
        OnnxModelFile.Save(model, path);
        return path;
    }

    internal static string RepositoryRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Compression.Build.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Run the benchmark from a checkout of the repository.");
    }
}

/// <summary>The digits test split (samples/Digits/Data/digits-test.csv): 360 labelled 8x8 images.</summary>
internal sealed record DigitsTestSet(float[] Images, int[] Labels)
{
    public const int Pixels = 64;

    public int Count => Labels.Length;

    public static DigitsTestSet Load(string csv)
    {
        string[] rows = File.ReadAllLines(csv).Skip(1).Where(l => l.Length > 0).ToArray();
        var pixels = new float[rows.Length * Pixels];
        var labels = new int[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            float[] fields = rows[r].Split(',').Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            labels[r] = (int)fields[0];
            fields.AsSpan(1).CopyTo(pixels.AsSpan(r * Pixels, Pixels));
        }

        return new DigitsTestSet(pixels, labels);
    }
}

/// <summary>
/// The naive floor: every MatMul, Gemm and Conv weight of at least 1024 elements rounded to int8, symmetric, one scale
/// per output channel from its largest magnitude, and written back as float (what a 25-line NumPy script does).
/// </summary>
internal static class NaiveRounding
{
    public static ModelProto Apply(ModelProto model)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (NodeProto node in model.Graph.Node)
        {
            if (node.Input.Count < 2 || !initializers.TryGetValue(node.Input[1], out TensorProto? weight) || !done.Add(weight.Name)
                || weight.DataType != (int)TensorProto.Types.DataType.Float || TensorShape.ElementCount(weight.Dims) < 1024)
            {
                continue;
            }

            long[] dims = [.. weight.Dims];
            int axis = node.OpType switch
            {
                "MatMul" => dims.Length - 1,
                "Gemm" => node.Attribute.Any(a => a.Name == "transB" && a.I != 0) ? 0 : 1,
                "Conv" => 0,
                _ => -1,
            };
            if (axis < 0)
            {
                continue;
            }

            float[] values = weight.ToArray<float>();
            var levels = new sbyte[values.Length];
            var scales = new float[dims[axis]];
            Int8Quantization.QuantizePerChannel(values, dims, axis, levels, scales);
            Int8Quantization.DequantizePerChannel(levels, dims, axis, scales, values);
            TensorProto rounded = TensorValues.Create<float>(weight.Name, dims, values);
            weight.FloatData.Clear();
            weight.RawData = rounded.RawData;
        }

        return model;
    }
}
