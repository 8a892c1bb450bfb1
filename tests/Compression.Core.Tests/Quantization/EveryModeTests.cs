using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Quantization;

/// <summary>
/// Every quantization mode over real graphs, through the compressor with its validation: the repository's digits MLP and
/// CNN (judged on the labelled test split) and libonnx-testdata's Gemm, MatMul and Conv node tests. Each output loads
/// and runs in ONNX Runtime with default options (plus the signature's entries) and stays within a stated error.
/// </summary>
public sealed class EveryModeTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    public static TheoryData<string, string, string, bool> Modes => new()
    {
        // Quantize, QuantizeMode, Algorithm, StandardOps.
        { "int8", "dynamic", "rtn", false },
        { "uint8", "dynamic", "rtn", false },
        { "int8", "weight-only", "rtn", false },
        { "int4", "weight-only", "rtn", false },
        { "uint4", "weight-only", "rtn", false },
        { "int4", "weight-only", "gptq", false },
        { "int8", "static", "rtn", false },
        { "fp16", "dynamic", "rtn", false },
        { "int8", "dynamic", "rtn", true },
        { "uint8", "dynamic", "rtn", true },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void The_digits_models_keep_their_accuracy_in_every_mode(string quantize, string mode, string algorithm, bool standard)
    {
        string samples = DigitsSamples();
        foreach (string model in new[] { RepositoryPaths.DigitsModel, RepositoryPaths.DigitsCnnModel })
        {
            CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File(Path.GetFileNameWithoutExtension(model) + $"-{quantize}-{mode}-{algorithm}-{standard}.onnx"))
            {
                Settings = Settings(quantize, mode, algorithm, standard)
                    .Set(EvaluationSettings.ValidationData, samples)
                    .Set(EvaluationSettings.CalibrationData, samples),
            });

            AccuracyResult accuracy = outcome.Report.Validation!.Accuracy!;
            // Accuracy in percent: at most 0.3 points lost at 8 bits, 1 point at 4 bits (one image of 360 is 0.28).
            double allowed = QuantizationSettings.BitsOf(quantize) == 4 ? 1.0 : 0.3;
            Assert.True(accuracy.Original - accuracy.Compressed <= allowed + 1e-9,
                $"{Path.GetFileName(model)} {quantize} {mode} {algorithm}: accuracy {accuracy.Original} -> {accuracy.Compressed}");
            Assert.NotEmpty(outcome.Report.Changed);
        }
    }

    public static TheoryData<string> NodeTests => new()
    {
        "test_gemm_all_attributes",
        "test_gemm_alpha",
        "test_gemm_beta",
        "test_gemm_default_matrix_bias",
        "test_gemm_default_vector_bias",
        "test_gemm_transposeA",
        "test_gemm_transposeB",
        "test_matmul_2d",
        "test_matmul_3d",
        "test_matmul_4d",
        "test_basic_conv_with_padding",
        "test_conv_with_strides_padding",
    };

    [Theory]
    [MemberData(nameof(NodeTests))]
    public void Backend_node_tests_with_their_weight_as_an_initializer_run_within_error_in_every_mode(string name)
    {
        (ModelProto model, TensorProto weight, _) = NodeTestModel.WithWeightAsInitializer(name);
        string input = folder.File(name, "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(input)!);
        OnnxModelFile.Save(model, input);

        foreach ((string quantize, string mode, string algorithm, bool standard) in Modes.Select(m => ((string)m[0], (string)m[1], (string)m[2], (bool)m[3])).Where(m => m.Item3 == "rtn" && m.Item2 != "static"))
        {
            CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(input, folder.File(name, $"{quantize}-{mode}-{standard}.onnx"))
            {
                Settings = Settings(quantize, mode, algorithm, standard).Set(QuantizationSettings.WeightThreshold, 0L),
            });

            Assert.Equal(weight.Name, Assert.Single(outcome.Report.Changed).Name);
            double minimum = QuantizationSettings.BitsOf(quantize) == 4 ? 0.99 : 0.999;
            Assert.All(outcome.Report.Validation!.Outputs, o => Assert.True(o.CosineSimilarity > minimum, $"{name} {quantize} {mode}: cosine {o.CosineSimilarity}"));
        }
    }

    private static CompressionSettings Settings(string quantize, string mode, string algorithm, bool standard) => CompressionSettings.Default
        .Set(QuantizationSettings.Quantize, quantize)
        .Set(QuantizationSettings.QuantizeMode, mode)
        .Set(QuantizationSettings.Algorithm, algorithm)
        .Set(QuantizationSettings.StandardOps, standard);

    private string DigitsSamples()
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        string data = folder.File("digits-samples");
        if (!Directory.Exists(data))
        {
            Directory.CreateDirectory(data);
            NumPyWriter.Write<float>(Path.Combine(data, "pixels.npy"), testSet.PixelValues, testSet.Count, DigitsTestSet.Pixels);
            NumPyWriter.Write<long>(Path.Combine(data, "labels.npy"), testSet.Labels.Select(l => (long)l).ToArray(), testSet.Count);
        }

        return data;
    }
}
