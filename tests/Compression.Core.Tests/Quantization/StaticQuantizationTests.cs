using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Microsoft.ML.OnnxRuntime;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Quantization;

/// <summary>QuantizeMode=static: QDQ pairs from calibration ranges that ONNX Runtime fuses into integer kernels.</summary>
public sealed class StaticQuantizationTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Theory]
    [InlineData("minmax")]
    [InlineData("percentile")]
    [InlineData("entropy")]
    public void A_CNN_gets_QDQ_pairs_ONNX_Runtime_fuses_into_QLinearConv_and_the_classifier_stays_float(string method)
    {
        string model = folder.File("cnn.onnx");
        OnnxModelFile.Save(Cnn(), model);
        string calibration = Samples("calibration", seed: 1);

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File(method, "cnn.onnx"))
        {
            Settings = CompressionSettings.Default
                .Set(QuantizationSettings.QuantizeMode, QuantizationSettings.Static)
                .Set(QuantizationSettings.CalibrationMethod, method)
                .Set(QuantizationSettings.WeightThreshold, 0L)
                .Set(EvaluationSettings.CalibrationData, calibration)
                .Set(EvaluationSettings.ValidationData, Samples("validation", seed: 2)),
        });

        ModelProto compressed = OnnxModelFile.Load(folder.File(method, "cnn.onnx"));
        // Input, conv1's Relu output and conv2's Relu output: three pairs; two int32 biases; two int8 weights.
        Assert.Equal(3, compressed.Graph.Node.Count(n => n.OpType == "QuantizeLinear"));
        Assert.Equal(3 + 2 + 2, compressed.Graph.Node.Count(n => n.OpType == "DequantizeLinear"));
        Assert.Equal(2, compressed.Graph.Initializer.Count(t => t.DataType == (int)DataType.Int32 && t.Name.EndsWith("_quantized", StringComparison.Ordinal)));
        Assert.Equal(["w1", "w2"], outcome.Report.Changed.Where(c => c.Technique.StartsWith("8-bit static QDQ", StringComparison.Ordinal)).Select(c => c.Name));
        // The classifier's small weight (under the dynamic threshold) is folded to float at load: its input and output stay float.
        Assert.StartsWith("8-bit, folded to float at load", outcome.Report.Changed.Single(c => c.Name == "w3").Technique, StringComparison.Ordinal);
        Assert.Contains(outcome.Report.Notes, n => n.Contains("sensitive paths in float", StringComparison.Ordinal));
        Assert.Empty(outcome.Signature.SessionConfig);
        Assert.True(outcome.Report.Validation!.Outputs.Single().CosineSimilarity > 0.99, $"cosine {outcome.Report.Validation.Outputs.Single().CosineSimilarity}");

        // ONNX Runtime with its default options turns the pairs and the convolutions into QLinearConv.
        string optimized = folder.File(method, "optimized.onnx");
        using (var options = new SessionOptions { OptimizedModelFilePath = optimized })
        using (var session = new InferenceSession(folder.File(method, "cnn.onnx"), options))
        {
        }

        Assert.Equal(2, OnnxModelFile.Load(optimized).Graph.Node.Count(n => n.OpType == "QLinearConv"));
    }

    [Fact]
    public void Entropy_calibration_clips_rare_outliers_but_keeps_the_bulk_of_the_distribution()
    {
        // Post-ReLU-like values: 100,000 half-normal values of scale 1, and 10 outliers at 100.
        var random = new Random(3);
        float[] values = Enumerable.Range(0, 100_000).Select(_ => (float)Math.Abs(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))
            .Concat(Enumerable.Repeat(100f, 10)).ToArray();
        var histogram = new HistogramCollector("x", 0, values.Max(), 2048);
        histogram.Add(new Core.Runtime.OnnxTensor<float>(values, [values.Length]));

        float threshold = EntropyCalibration.Threshold(histogram);

        Assert.InRange(threshold, 3f, 20f);
    }

    [Fact]
    public void Static_quantization_without_calibration_data_is_OCB0003_saying_what_to_give()
    {
        string model = folder.File("cnn.onnx");
        OnnxModelFile.Save(Cnn(), model);

        CompressionException error = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(new CompressionRequest(model, folder.File("out.onnx"))
        {
            Settings = CompressionSettings.Default.Set(QuantizationSettings.QuantizeMode, QuantizationSettings.Static).Set(QuantizationSettings.WeightThreshold, 0L),
        }));

        Assert.Equal(DiagnosticCodes.InvalidSetting, error.Code);
        Assert.Contains("QuantizeMode=static", error.Message, StringComparison.Ordinal);
        Assert.Contains("Set CalibrationData", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("out.onnx")));
    }

    /// <summary>image [batch, 3, 16, 16] -> Conv 16 + Relu -> Conv 32 + Relu -> GlobalAveragePool -> Flatten -> Gemm 10 (the model's output).</summary>
    private static ModelProto Cnn() => new ModelBuilder()
        .Input("image", DataType.Float, "batch", 3, 16, 16)
        .Output("logits", DataType.Float, "batch", 10)
        .Initializer("w1", [16, 3, 3, 3], SeededValues.Uniform(1, 16 * 27, 0.3f))
        .Initializer("b1", [16], SeededValues.Uniform(2, 16, 0.1f))
        .Initializer("w2", [32, 16, 3, 3], SeededValues.Uniform(3, 32 * 144, 0.1f))
        .Initializer("b2", [32], SeededValues.Uniform(4, 32, 0.1f))
        .Initializer("w3", [10, 32], SeededValues.Uniform(5, 320, 0.3f))
        .Initializer("b3", [10], SeededValues.Uniform(6, 10, 0.1f))
        .Node("Conv", ["image", "w1", "b1"], ["c1"], Attributes.Ints("pads", 1, 1, 1, 1))
        .Node("Relu", ["c1"], ["r1"])
        .Node("Conv", ["r1", "w2", "b2"], ["c2"], Attributes.Ints("pads", 1, 1, 1, 1))
        .Node("Relu", ["c2"], ["r2"])
        .Node("GlobalAveragePool", ["r2"], ["pooled"])
        .Node("Flatten", ["pooled"], ["flat"])
        .Node("Gemm", ["flat", "w3", "b3"], ["logits"], Attributes.Int("transB", 1))
        .Build();

    private string Samples(string name, int seed)
    {
        string data = folder.File(name);
        Directory.CreateDirectory(data);
        NumPyWriter.Write<float>(Path.Combine(data, "image.npy"), SeededValues.Uniform(seed, 16 * 3 * 16 * 16), 16, 3, 16, 16);
        return data;
    }
}
