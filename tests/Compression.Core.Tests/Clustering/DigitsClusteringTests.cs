using System.IO.Compression;
using Compression.Core.Evaluation;
using Compression.Core.Passes.Clustering;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Xunit.Abstractions;

namespace Compression.Core.Tests.Clustering;

/// <summary>Clustering the trained digits MLP through the compressor: accuracy, file size, zipped size.</summary>
public sealed class DigitsClusteringTests(ITestOutputHelper output) : IDisposable
{
    private static readonly Lazy<DigitsTestSet> TestSet = new(DigitsTestSet.Load);
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Theory]
    [InlineData(5, ClusteringSettings.PerTensor, 0.5)]
    [InlineData(4, ClusteringSettings.PerTensor, 0.5)]
    [InlineData(3, ClusteringSettings.PerTensor, 2)]
    [InlineData(2, ClusteringSettings.PerTensor, 15)]
    [InlineData(4, ClusteringSettings.PerChannel, 0.5)]
    [InlineData(3, ClusteringSettings.PerChannel, 1)]
    [InlineData(2, ClusteringSettings.PerChannel, 5)]
    public void The_digits_MLP_keeps_its_accuracy_within_the_stated_points(int bits, string granularity, double maxDrop)
    {
        double original = Accuracy(File.ReadAllBytes(RepositoryPaths.DigitsModel));
        (CompressionOutcome outcome, string outputPath) = Run(RepositoryPaths.DigitsModel, bits, granularity, $"{bits}-{granularity}");
        double clustered = Accuracy(File.ReadAllBytes(outputPath));
        output.WriteLine($"Cluster={bits} {granularity}: accuracy {original:P2} -> {clustered:P2}, {outcome.Report.Size.Original:N0} -> {outcome.Report.Size.Compressed:N0} bytes, zipped {outcome.Report.Size.ZippedCompressed:N0}");
        Assert.True((original - clustered) * 100 <= maxDrop, $"accuracy {original:P2} -> {clustered:P2} at {bits} bits per {granularity}");
        Assert.Equal(3, outcome.Report.Changed.Count);
        Assert.All(outcome.Report.Changed, c => Assert.StartsWith($"clustered to {1 << bits} values", c.Technique, StringComparison.Ordinal));
    }

    [Fact]
    public void The_file_shrinks_as_the_bits_fall_and_the_report_gives_the_zipped_sizes_a_deflate_stream_gives()
    {
        long previous = new FileInfo(RepositoryPaths.DigitsModel).Length;
        foreach (int bits in new[] { 8, 6, 5, 4, 3, 2, 1 })
        {
            (CompressionOutcome outcome, string outputPath) = Run(RepositoryPaths.DigitsModel, bits, ClusteringSettings.PerTensor, $"size-{bits}");
            long size = new FileInfo(outputPath).Length;
            output.WriteLine($"Cluster={bits}: {size:N0} bytes, zipped {outcome.Report.Size.ZippedCompressed:N0}");
            Assert.True(size < previous, $"{bits} bits: {size} bytes, not below {previous}");
            // The weights' 84,480 values at B bits, plus codebooks, biases and the graph: within 2 KB of that.
            Assert.InRange(size, (84_480L * bits / 8) + 2_000, (84_480L * bits / 8) + 8_000);
            Assert.Equal(size, outcome.Report.Size.Compressed);
            Assert.Equal(Deflated(outputPath), outcome.Report.Size.ZippedCompressed);
            Assert.Equal(Deflated(RepositoryPaths.DigitsModel), outcome.Report.Size.ZippedOriginal);
            previous = size;
        }
    }

    [Fact]
    public void Pruned_to_90_percent_and_clustered_to_4_bits_the_digits_MLP_zips_to_a_small_fraction_of_the_zipped_original()
    {
        string pruned = folder.File("pruned", "digits.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(pruned)!);
        File.WriteAllBytes(pruned, OnnxModelFile.ToBytes(PruneSmallest(OnnxModelFile.Load(RepositoryPaths.DigitsModel), 0.9)));

        (CompressionOutcome outcome, string outputPath) = Run(pruned, 4, ClusteringSettings.PerTensor, "pruned-clustered");
        long zippedOriginal = Deflated(RepositoryPaths.DigitsModel);
        long zippedPruned = Deflated(pruned);
        long zippedClustered = outcome.Report.Size.ZippedCompressed!.Value;
        double accuracyPruned = Accuracy(File.ReadAllBytes(pruned));
        double accuracyClustered = Accuracy(File.ReadAllBytes(outputPath));
        output.WriteLine($"fp32 {new FileInfo(RepositoryPaths.DigitsModel).Length:N0} bytes, zipped {zippedOriginal:N0}; pruned 90% zipped {zippedPruned:N0} " +
            $"({(double)zippedOriginal / zippedPruned:0.0}x); pruned + 4-bit clustered {outcome.Report.Size.Compressed:N0} bytes, zipped {zippedClustered:N0} " +
            $"({(double)zippedOriginal / zippedClustered:0.0}x); accuracy pruned {accuracyPruned:P2}, clustered {accuracyClustered:P2}");

        Assert.All(outcome.Report.Changed, c => Assert.InRange(c.Sparsity, 0.89, 0.91));
        Assert.True(zippedOriginal >= 20 * zippedClustered, $"zipped {zippedOriginal:N0} -> {zippedClustered:N0}");
        Assert.True(accuracyPruned - accuracyClustered <= 0.01, $"accuracy pruned {accuracyPruned:P2}, clustered {accuracyClustered:P2}");
    }

    [Theory]
    [InlineData(2, ClusteringSettings.PerTensor)]
    [InlineData(3, ClusteringSettings.PerTensor)]
    [InlineData(4, ClusteringSettings.PerTensor)]
    [InlineData(2, ClusteringSettings.PerChannel)]
    [InlineData(3, ClusteringSettings.PerChannel)]
    public void With_calibration_data_the_refit_codebooks_move_every_layers_outputs_less_and_keep_the_held_out_accuracy(int bits, string granularity)
    {
        // The test split's 360 images: half to calibrate, the other half to judge.
        string calibration = DigitsSamples("calibration", 0, 180);
        string validation = DigitsSamples("validation", 180, 180);
        CompressionOutcome Outcome(bool distill, string name) => ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File(name, "digits.onnx"))
        {
            Settings = CompressionSettings.Default
                .Set(ClusteringSettings.Cluster, (long)bits)
                .Set(ClusteringSettings.ClusterGranularity, granularity)
                .Set(QuantizationSettings.Quantize, QuantizationSettings.None)
                .Set(DistillationSettings.Distill, distill)
                .Set(EvaluationSettings.CalibrationData, calibration)
                .Set(EvaluationSettings.ValidationData, validation),
        });

        CompressionOutcome plain = Outcome(false, "plain");
        CompressionOutcome distilled = Outcome(true, "distilled");
        Assert.All(plain.Report.Changed, c => Assert.Null(c.OutputError));
        Assert.Equal(3, distilled.Report.Changed.Count);
        Assert.All(distilled.Report.Changed, c =>
        {
            Assert.EndsWith(", codebook distilled", c.Technique, StringComparison.Ordinal);
            Assert.True(c.OutputError < c.RoundingOutputError, $"{c.Name}: refit {c.OutputError} against k-means {c.RoundingOutputError}");
        });

        // The codes are the same: only the codebooks' values moved, so the files have the same size.
        Assert.Equal(plain.Report.Size.Compressed, distilled.Report.Size.Compressed);
        double original = distilled.Report.Validation!.Accuracy!.Original;
        double before = plain.Report.Validation!.Accuracy!.Compressed;
        double after = distilled.Report.Validation!.Accuracy!.Compressed;
        double Error(CompressionOutcome o) => o.Report.Validation!.Outputs.Single(x => x.Name == "logits").MeanAbsError;
        output.WriteLine($"Cluster={bits} {granularity} on 180 held-out images: accuracy {original:0.00}% original, {before:0.00}% k-means, {after:0.00}% distilled; " +
            $"mean logit error {Error(plain):G3} -> {Error(distilled):G3}; layer errors " +
            string.Join(", ", distilled.Report.Changed.Select(c => $"{c.RoundingOutputError:G3} -> {c.OutputError:G3}")));
        Assert.True(Error(distilled) < Error(plain), $"held-out mean logit error: distilled {Error(distilled)}, k-means {Error(plain)}");
        Assert.True(after >= before - 1, $"held-out accuracy {before}% -> {after}%");
    }

    private string DigitsSamples(string name, int first, int rows)
    {
        DigitsTestSet testSet = TestSet.Value;
        string data = folder.File(name);
        return testSet.WriteSamples(data, first, rows);
    }

    /// <summary>The model with the smallest <paramref name="fraction"/> of each MatMul weight's values set to zero.</summary>
    internal static ModelProto PruneSmallest(ModelProto model, double fraction)
    {
        foreach (NodeProto node in model.Graph.Node.Where(n => n.OpType == "MatMul"))
        {
            TensorProto weight = model.Graph.Initializer.Single(t => t.Name == node.Input[1]);
            float[] values = weight.View<float>().Span.ToArray();
            float[] magnitudes = values.Select(Math.Abs).Order().ToArray();
            float threshold = magnitudes[(int)(fraction * values.Length)];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = Math.Abs(values[i]) < threshold ? 0f : values[i];
            }

            weight.RawData = TensorValues.Create<float>(weight.Name, [.. weight.Dims], values).RawData;
            weight.FloatData.Clear();
        }

        return model;
    }

    private (CompressionOutcome Outcome, string OutputPath) Run(string model, int bits, string granularity, string name)
    {
        string path = folder.File(name, "digits.onnx");
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, path)
        {
            Settings = CompressionSettings.Default
                .Set(ClusteringSettings.Cluster, (long)bits)
                .Set(ClusteringSettings.ClusterGranularity, granularity)
                .Set(QuantizationSettings.Quantize, QuantizationSettings.None),
        });
        return (outcome, path);
    }

    private static double Accuracy(byte[] model)
    {
        using var session = new OnnxSession(model, Ort.Options());
        return TestSet.Value.Accuracy(session);
    }

    /// <summary>A file's size deflated as a zip stores it.</summary>
    private static long Deflated(string path)
    {
        using var deflated = new MemoryStream();
        using (var deflate = new DeflateStream(deflated, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(File.ReadAllBytes(path));
        }

        return deflated.Length;
    }
}
