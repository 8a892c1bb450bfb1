using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Quantization;

/// <summary>PerChannel=false: one scale for the whole weight, per model or per node.</summary>
public sealed class PerChannelTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void One_scale_per_tensor_is_smaller_runs_in_ONNX_Runtime_and_moves_the_outputs_further()
    {
        CompressionOutcome perChannel = Compress("per-channel", CompressionSettings.Default);
        CompressionOutcome perTensor = Compress("per-tensor", CompressionSettings.Default.Set(QuantizationSettings.PerChannel, false));

        ModelProto model = OnnxModelFile.Load(folder.File("per-tensor", "digits.onnx"));
        Assert.Equal(3, model.Graph.Node.Count(n => n.OpType == "MatMulInteger"));
        Assert.Equal(6, model.Graph.Initializer.Count(t => t.Name.EndsWith("_scale", StringComparison.Ordinal) || t.Name.EndsWith("_zero_point", StringComparison.Ordinal)));
        Assert.All(model.Graph.Initializer.Where(t => t.Name.EndsWith("_scale", StringComparison.Ordinal) || t.Name.EndsWith("_zero_point", StringComparison.Ordinal)), t => Assert.Empty(t.Dims));
        Assert.True(perTensor.Report.Size.Compressed < perChannel.Report.Size.Compressed);
        Assert.Equal(["8-bit dynamic MatMulInteger: 3 MatMul weight tensors (84,480 values), symmetric, one scale per tensor"], perTensor.Signature.Compression);
        Assert.All(perTensor.Report.Changed, c => Assert.Null(c.Axis));
        double ErrorOf(CompressionOutcome o) => o.Report.Validation!.Outputs[0].MaxAbsError;
        Assert.True(ErrorOf(perTensor) > ErrorOf(perChannel), $"per tensor {ErrorOf(perTensor)}, per channel {ErrorOf(perChannel)}");
        Assert.True(perTensor.Report.Validation!.Outputs[0].CosineSimilarity > 0.999);
    }

    [Fact]
    public void The_overrides_file_sets_it_per_node_and_the_signature_lists_both_granularities()
    {
        string overrides = folder.File("overrides.json");
        File.WriteAllText(overrides, """{ "nodes": { "fc3_matmul": { "PerChannel": false } } }""");

        CompressionOutcome outcome = Compress("mixed", CompressionSettings.Default.Set(SettingsCatalog.Overrides, overrides));

        Assert.Equal(
            ["8-bit dynamic MatMulInteger: 2 MatMul weight tensors (81,920 values), symmetric, one scale per output channel",
             "8-bit dynamic MatMulInteger: 1 MatMul weight tensor (2,560 values), symmetric, one scale per tensor"],
            outcome.Signature.Compression);
        Assert.Equal([1, 1, (int?)null], outcome.Report.Changed.Select(c => c.Axis));
    }

    /// <summary>Compresses the digits MLP with its MatMuls in the dynamic form, whose scales PerChannel sets (its weights are under the dynamic threshold).</summary>
    private CompressionOutcome Compress(string run, CompressionSettings settings) =>
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File(run, "digits.onnx"))
        {
            Settings = settings.Set(QuantizationSettings.DynamicThreshold, 0L),
        });
}
