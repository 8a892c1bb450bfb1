// Channel pruning's measurements (README, "Channel pruning"): digits MLP and CNN accuracy with and without distillation,
// file sizes, and ONNX Runtime latency of the digits CNN and the benchmark's ResNet-style CNN before and after, the two
// models' runs interleaved. From the repository root:
//   dotnet run -c Release --project bench/ChannelPruning -- . [iterations]
// With --large: the time to prune three 4096 x 4096 MatMul layers by half, and the digits CNN pruned and quantized.
// With --wanda-check: the digits MLP's first layer pruned by half by magnitude and by wanda, compared.
using System.Diagnostics;
using Compression.Testing;
using System.Globalization;
using Compression.Core;
using Compression.Core.Evaluation;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.Pruning;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;

string root = args[0];
string work = Path.Combine(Path.GetTempPath(), "channel-measure");
Directory.CreateDirectory(work);
string[] lines = File.ReadAllLines(Path.Combine(root, "samples/Digits/Data/digits-test.csv")).Skip(1).Where(l => l.Length > 0).ToArray();
float[] pixels = lines.SelectMany(l => l.Split(',').Skip(1).Select(f => float.Parse(f, CultureInfo.InvariantCulture))).ToArray();
int[] labels = lines.Select(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).ToArray();
int count = labels.Length;
string calibration = Path.Combine(work, "calibration");
Directory.CreateDirectory(calibration);
NumPyWriter.Write<float>(Path.Combine(calibration, "pixels.npy"), pixels.AsSpan(0, 180 * 64), 180, 64);

(double All, double HeldOut) Accuracy(string path)
{
    using var session = new OnnxSession(File.ReadAllBytes(path), new OnnxSessionOptions { IntraOpThreads = 1 });
    var logits = session.Run(["pixels"], [new OnnxTensor<float>(pixels, [count, 64])], ["logits"])[0].As<float>().Span;
    int correct = 0, heldOut = 0;
    for (int i = 0; i < count; i++)
    {
        int best = 0;
        for (int c = 1; c < 10; c++) best = logits[i * 10 + c] > logits[i * 10 + best] ? c : best;
        if (best == labels[i]) { correct++; if (i >= 180) heldOut++; }
    }
    return ((double)correct / count, (double)heldOut / (count - 180));
}

string Compress(string model, string name, double prune, bool calibrate, bool distill, string criterion = "magnitude", string scope = "layer")
{
    string output = Path.Combine(work, name, Path.GetFileName(model));
    var settings = CompressionSettings.Default.Set(PruningSettings.Prune, prune).Set(PruningSettings.PrunePattern, PruningSettings.Channel)
        .Set(QuantizationSettings.Quantize, QuantizationSettings.None).Set(DistillationSettings.Distill, distill)
        .Set(PruningSettings.PruneCriterion, criterion).Set(PruningSettings.PruneScope, scope).Set(EvaluationSettings.Validate, false);
    if (calibrate) settings = settings.Set(EvaluationSettings.CalibrationData, calibration);
    var clock = Stopwatch.StartNew();
    var outcome = ModelCompressor.Compress(new CompressionRequest(model, output) { Settings = settings });
    Console.WriteLine($"  {name}: compressed in {clock.Elapsed.TotalSeconds:F2} s; {string.Join(" ", outcome.Report.Passes.SelectMany(p => p.Techniques))}");
    return output;
}

(double Before, double After) Latency(string original, string pruned, string input, long[] shape, int iterations)
{
    using var a = new OnnxSession(File.ReadAllBytes(original), new OnnxSessionOptions { IntraOpThreads = 1 });
    using var b = new OnnxSession(File.ReadAllBytes(pruned), new OnnxSessionOptions { IntraOpThreads = 1 });
    var random = new Random(1);
    var data = new float[shape.Aggregate(1L, (x, y) => x * y)];
    for (int i = 0; i < data.Length; i++) data[i] = (float)random.NextDouble();
    var tensor = new OnnxTensor<float>(data, shape);
    string output = a.Outputs[0].Name;
    for (int i = 0; i < 10; i++) { a.Run([input], [tensor], [output]); b.Run([input], [tensor], [output]); }
    var ta = new List<double>(); var tb = new List<double>();
    for (int i = 0; i < iterations; i++)
    {
        foreach (var (session, times) in i % 2 == 0 ? new[] { (a, ta), (b, tb) } : new[] { (b, tb), (a, ta) })
        {
            var clock = Stopwatch.StartNew();
            session.Run([input], [tensor], [output]);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
    }
    ta.Sort(); tb.Sort();
    return (ta[ta.Count / 2], tb[tb.Count / 2]);
}

void Line(string label, string path, string original)
{
    var a = Accuracy(path);
    Console.WriteLine($"  {label}: accuracy {a.All:P2} (held-out 180: {a.HeldOut:P2}), file {new FileInfo(path).Length / (double)new FileInfo(original).Length:F3}x");
}

if (args.Contains("--large"))
{
    string large = Path.Combine(work, "large.onnx");
    OnnxModelFile.Save(Compression.Benchmarks.GeneratedModels.LargeMlp(layers: 3), large);
    Compress(large, "large", 0.5, false, false);
    var quantized = ModelCompressor.Compress(new CompressionRequest(cnn0(root), Path.Combine(work, "cnn-int8", "digits_cnn.onnx")) { Settings = CompressionSettings.Default.Set(PruningSettings.Prune, 0.3).Set(PruningSettings.PrunePattern, PruningSettings.Channel) });
    Console.WriteLine($"cnn 30% + int8: {string.Join(" | ", quantized.Report.Passes.SelectMany(p => p.Techniques))}; size {quantized.Report.Size}; validation {quantized.Report.Validation?.Outputs.First()}");
    Line("cnn 30% + int8", Path.Combine(work, "cnn-int8", "digits_cnn.onnx"), cnn0(root));
    return;
}
static string cnn0(string root) => Path.Combine(root, "bench/models/digits_cnn.onnx");
if (args.Contains("--wanda-check")) { WandaCheck.Run(root, pixels, count); return; }
string mlp = Path.Combine(root, "samples/Digits/Models/digits.onnx");
string cnn = Path.Combine(root, "bench/models/digits_cnn.onnx");
Console.WriteLine("digits MLP");
Line("original", mlp, mlp);
foreach (double f in new[] { 0.5, 0.75 })
{
    Line($"{f:P0} magnitude, no distillation", Compress(mlp, $"mlp{f}-plain", f, false, false), mlp);
    Line($"{f:P0} magnitude, distilled", Compress(mlp, $"mlp{f}-distilled", f, true, true), mlp);
    Line($"{f:P0} wanda, no distillation", Compress(mlp, $"mlp{f}-wanda", f, true, false, "wanda"), mlp);
    Line($"{f:P0} wanda, distilled", Compress(mlp, $"mlp{f}-wanda-distilled", f, true, true, "wanda"), mlp);
}
Console.WriteLine("digits CNN");
Line("original", cnn, cnn);
string cnnPlain = Compress(cnn, "cnn-plain", 0.3, false, false);
Line("30% magnitude, no distillation", cnnPlain, cnn);
string cnnDistilled = Compress(cnn, "cnn-distilled", 0.3, true, true);
Line("30% magnitude, distilled (Gemm readers refit)", cnnDistilled, cnn);
Line("30% magnitude global", Compress(cnn, "cnn-global", 0.3, false, false, "magnitude", "global"), cnn);
Line("50% magnitude, distilled", Compress(cnn, "cnn-50-distilled", 0.5, true, true), cnn);
int iterations = args.Length > 1 && int.TryParse(args[1], out int given) ? given : 600;
var (before, after) = Latency(cnn, cnnPlain, "pixels", [1, 64], iterations);
Console.WriteLine($"  latency batch 1: {before * 1000:F1} us -> {after * 1000:F1} us ({after / before:F2}x)");
(before, after) = Latency(cnn, cnnPlain, "pixels", [32, 64], iterations / 3);
Console.WriteLine($"  latency batch 32: {before * 1000:F1} us -> {after * 1000:F1} us ({after / before:F2}x)");

Console.WriteLine("ResNet-style CNN (bench GeneratedModels.ResNet)");
string resnet = Path.Combine(work, "resnet.onnx");
OnnxModelFile.Save(Compression.Benchmarks.GeneratedModels.ResNet(), resnet);
foreach (double f in new[] { 0.3, 0.5 })
{
    string pruned = Compress(resnet, $"resnet{f}", f, false, false);
    var (b, a) = Latency(resnet, pruned, "image", [1, 3, 64, 64], iterations / 6);
    Console.WriteLine($"  {f:P0}: file {new FileInfo(pruned).Length / (double)new FileInfo(resnet).Length:F3}x, latency {b:F2} ms -> {a:F2} ms ({a / b:F2}x)");
}
