using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Passes;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.Pruning;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;

namespace Compression.Core.Tests.Distillation;

/// <summary>
/// The budget search's cells share distillation's recordings and refits through a <see cref="DistillationCache"/>: the
/// digits MLP pruned and refit on one layer, compressed again with the cache, gives the same bytes as without it, from
/// the recording and refit kept; a layer whose input the earlier change reaches records afresh.
/// </summary>
public sealed class DistillationCacheTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_kept_recording_and_refit_give_the_bytes_the_work_gives()
    {
        string calibration = Calibration();
        SampleSet samples = SampleSet.Load(calibration, ModelInterface.Inputs(Model.Load(RepositoryPaths.DigitsModel).ToProto()), RepositoryPaths.DigitsModel,
            EvaluationSettings.CalibrationData);
        var cache = new DistillationCache();

        // fc2 alone at int8 + prune 50%: the first compression records and refits, the second takes both from the cache.
        byte[] fresh = Compress(calibration, samples, "int8", 0.5, null);
        byte[] first = Compress(calibration, samples, "int8", 0.5, cache);
        Assert.Equal((0, 0), (cache.RecordingHits, cache.RefitHits));
        byte[] second = Compress(calibration, samples, "int8", 0.5, cache);
        Assert.Equal((1, 1), (cache.RecordingHits, cache.RefitHits));
        Assert.Equal(fresh, first);
        Assert.Equal(fresh, second);

        // int4 + prune 50% prunes and refits fc2 as int8 + prune 50% did: the refit is kept; 75% records the same input
        // but refits another mask.
        Assert.Equal(Compress(calibration, samples, "int4", 0.5, null), Compress(calibration, samples, "int4", 0.5, cache));
        Assert.Equal((2, 2), (cache.RecordingHits, cache.RefitHits));
        Assert.Equal(Compress(calibration, samples, "int8", 0.75, null), Compress(calibration, samples, "int8", 0.75, cache));
        Assert.Equal((3, 2), (cache.RecordingHits, cache.RefitHits));

        // Another sample set is neither served nor kept.
        SampleSet other = SampleSet.Load(calibration, ModelInterface.Inputs(Model.Load(RepositoryPaths.DigitsModel).ToProto()), RepositoryPaths.DigitsModel,
            EvaluationSettings.CalibrationData);
        Assert.Equal(fresh, Compress(calibration, other, "int8", 0.5, cache));
        Assert.Equal(3, cache.RecordingHits);
    }

    /// <summary>The digits MLP with only fc2 compressed (<paramref name="quantize"/> + <paramref name="prune"/>), the rest left alone, as bytes.</summary>
    private static byte[] Compress(string calibration, SampleSet samples, string quantize, double prune, DistillationCache? cache)
    {
        var origin = new SettingOrigin(SettingLevel.Node, "the test");
        ResolvedSettings settings = SettingsResolver.Resolve(CompressionSettings.Default.Set(EvaluationSettings.CalibrationData, calibration), RepositoryPaths.DigitsModel)
            .WithNodes(new Dictionary<string, IReadOnlyDictionary<Setting, object>>(StringComparer.Ordinal)
            {
                ["fc1_matmul"] = new Dictionary<Setting, object> { [QuantizationSettings.Quantize] = QuantizationSettings.None },
                ["fc2_matmul"] = new Dictionary<Setting, object> { [QuantizationSettings.Quantize] = quantize, [PruningSettings.Prune] = prune },
                ["fc3_matmul"] = new Dictionary<Setting, object> { [QuantizationSettings.Quantize] = QuantizationSettings.None },
            }, origin);
        Model model = Model.Load(RepositoryPaths.DigitsModel);
        var context = new PassContext(model, settings, RepositoryPaths.DigitsModel)
        {
            CalibrationSource = () => samples,
            DistillationCache = cache,
        };
        CompressionPipeline.Run(context);
        return OnnxModelFile.ToBytes(model.ToProto());
    }

    private string Calibration()
    {
        string calibration = folder.File("calibration");
        Directory.CreateDirectory(calibration);
        DigitsTestSet testSet = DigitsTestSet.Load();
        NumPyWriter.Write<float>(Path.Combine(calibration, "pixels.npy"), testSet.PixelValues.AsSpan(0, 180 * DigitsTestSet.Pixels), 180, DigitsTestSet.Pixels);
        return calibration;
    }
}
