using System.Text.Json;
using Compression.Core.Evaluation;
using Compression.Core.Passes;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Pruning;

/// <summary>
/// A layer whose inputs lost channels to the pruning of the layer before it, then pruned or factorized with distillation on
/// (a mix the budget search tries): the refit aims at the original's inputs, which no longer line up with the weight, so
/// the layer is written unrefit, said so in the report, and the model runs.
/// </summary>
public sealed class ChannelPrunedInputsTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Theory]
    [InlineData("Prune", "0.5")]
    [InlineData("LowRank", "0.5")]
    public void The_next_layer_is_written_unrefit_and_the_model_runs(string setting, string value)
    {
        ModelProto model = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        string[] layers = model.Graph.Node.Where(n => n.OpType is "Gemm" or "MatMul").Select(n => n.Name).ToArray();
        string overrides = folder.File(setting + ".json");
        File.WriteAllText(overrides, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["nodes"] = new Dictionary<string, object>
            {
                [layers[0]] = new Dictionary<string, object> { ["Prune"] = 0.5, ["PrunePattern"] = "channel" },
                [layers[1]] = new Dictionary<string, object> { [setting] = value },
            },
        }));
        string samples = DigitsTestSet.Load().WriteSamples(folder.File("samples"), 0, 180);

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File(setting, "digits.onnx"))
        {
            Settings = CompressionSettings.Default
                .Set(QuantizationSettings.Quantize, QuantizationSettings.None)
                .Set(EvaluationSettings.CalibrationData, samples)
                .Set(EvaluationSettings.ValidationData, samples)
                .Set(SettingsCatalog.Overrides, overrides),
        });

        TensorChange second = outcome.Report.Changed.Last(c => c.Nodes.Contains(layers[1]));
        if (setting == "Prune")
        {
            Assert.Contains("not refit: channel pruning of an earlier layer", second.Technique, StringComparison.Ordinal);
        }
        else
        {
            Assert.DoesNotContain("refit", second.Technique, StringComparison.Ordinal);
        }

        Assert.True(outcome.Report.Validation!.Outputs[0].CosineSimilarity > 0.9, $"cosine {outcome.Report.Validation.Outputs[0].CosineSimilarity}");
    }
}
