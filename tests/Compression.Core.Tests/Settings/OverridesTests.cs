using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Settings;

/// <summary>The overrides file: settings per op type and per node, over the model's and the project's.</summary>
public sealed class OverridesTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_node_name_beats_an_op_type_which_beats_the_model()
    {
        // MatMul → none for every MatMul, but fc2_matmul is named: its own entry wins.
        string overrides = Write("""{ "opTypes": { "MatMul": { "Quantize": "none" } }, "nodes": { "fc2_matmul": { "Quantize": "int8" } } }""");

        CompressionOutcome outcome = Compress(overrides);

        Assert.Equal(["fc2.weight"], outcome.Report.Changed.Select(c => c.Name));
        Assert.Equal(
            [("fc1.weight", $"Quantize=none (op type 'MatMul' in overrides file '{overrides}')"), ("fc3.weight", $"Quantize=none (op type 'MatMul' in overrides file '{overrides}')")],
            outcome.Report.LeftAlone.Where(s => s.Name.EndsWith(".weight", StringComparison.Ordinal)).Select(s => (s.Name, s.Reason)));
    }

    [Fact]
    public void None_in_place_of_an_object_leaves_a_node_alone()
    {
        string overrides = Write("""{ "nodes": { "fc1_matmul": "none" } }""");

        CompressionOutcome outcome = Compress(overrides);

        Assert.Equal(["fc2.weight", "fc3.weight"], outcome.Report.Changed.Select(c => c.Name));
        Assert.Equal("fc1.weight", Assert.Single(outcome.Report.LeftAlone, s => s.Name.EndsWith(".weight", StringComparison.Ordinal)).Name);
    }

    [Fact]
    public void A_node_threshold_override_reaches_a_small_weight_the_model_threshold_skips()
    {
        // fc3.weight has 256 x 10 = 2560 elements: with the model's threshold at 4096 only the named node takes it.
        string overrides = Write("""{ "nodes": { "fc3_matmul": { "WeightThreshold": 0 } } }""");

        CompressionOutcome without = Compress(null, CompressionSettings.Default.Set(QuantizationSettings.WeightThreshold, 4096L));
        CompressionOutcome with = Compress(overrides, CompressionSettings.Default.Set(QuantizationSettings.WeightThreshold, 4096L));

        Assert.Equal(["fc1.weight", "fc2.weight"], without.Report.Changed.Select(c => c.Name));
        Assert.Equal("2560 elements, below the weight threshold of 4096", Assert.Single(without.Report.LeftAlone, s => s.Name == "fc3.weight").Reason);
        Assert.Equal(["fc1.weight", "fc2.weight", "fc3.weight"], with.Report.Changed.Select(c => c.Name));
    }

    [Theory]
    [InlineData("""{ "opTypes": { "Conv": { "Quantise": "none" } } }""", "'Quantise' (op type 'Conv' in overrides file", "is not a setting")]
    [InlineData("""{ "nodes": { "fc1_matmul": { "Validate": false } } }""", "'Validate' (node 'fc1_matmul' in overrides file", "applies to the whole model only")]
    [InlineData("""{ "opTypes": { "MatMul": { "Quantize": "int3" } } }""", "Quantize='int3' (op type 'MatMul' in overrides file", "Valid values: int8, uint8, int4, uint4, fp16, none.")]
    [InlineData("""{ "opTypes": { "MatMul": { "WeightThreshold": [1] } } }""", "WeightThreshold (op type 'MatMul' in overrides file", "must be a string, number or boolean")]
    public void A_bad_key_or_value_is_OCB0003_naming_the_setting_the_level_and_the_file(string json, string where, string why)
    {
        string overrides = Write(json);

        CompressionException e = Assert.Throws<CompressionException>(() => Compress(overrides));

        Assert.Equal(DiagnosticCodes.InvalidSetting, e.Code);
        Assert.Contains(where, e.Message, StringComparison.Ordinal);
        Assert.Contains(overrides, e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Equal(["overrides.json"], folder.ListFiles());
    }

    [Theory]
    [InlineData("""{ "nodes": { "fc9_matmul": { "Quantize": "none" } } }""", "a node the model does not have: 'fc9_matmul'")]
    [InlineData("""{ "layers": {} }""", "the top level takes only \"opTypes\" and \"nodes\"")]
    [InlineData("""[1, 2]""", "its top level must be an object")]
    [InlineData("""{ "nodes": """, "it is not valid JSON")]
    public void An_unusable_overrides_file_is_OCB0007(string json, string why)
    {
        string overrides = Write(json);

        CompressionException e = Assert.Throws<CompressionException>(() => Compress(overrides));

        Assert.Equal(DiagnosticCodes.InvalidOverrides, e.Code);
        Assert.Contains(overrides, e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Equal(["overrides.json"], folder.ListFiles());
    }

    [Fact]
    public void A_weight_shared_by_nodes_with_different_settings_is_OCB0008_naming_both()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 64)
            .Initializer("w", [64, 64], SeededValues.Uniform(1, 64 * 64))
            .Node("MatMul", ["x", "w"], ["a"])
            .Node("MatMul", ["a", "w"], ["b"])
            .Output("b", DataType.Float, 2, 64)
            .Build();
        string path = folder.File("shared.onnx");
        OnnxModelFile.Save(model, path);
        string overrides = Write("""{ "nodes": { "MatMul_b": { "Quantize": "none" } } }""");

        CompressionException e = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(new CompressionRequest(path, folder.File("out.onnx"))
        {
            Settings = CompressionSettings.Default.Set(SettingsCatalog.Overrides, overrides).Set(EvaluationSettings.Validate, false),
        }));

        Assert.Equal(DiagnosticCodes.SharedWeightConflict, e.Code);
        Assert.Contains("'w'", e.Message, StringComparison.Ordinal);
        Assert.Contains("MatMul_a (MatMul)", e.Message, StringComparison.Ordinal);
        Assert.Contains("MatMul_b (MatMul)", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("out.onnx")));
    }

    [Fact]
    public void Quantizing_an_already_quantized_model_says_so_instead_of_computed_at_run_time()
    {
        CompressionOutcome first = Compress(overrides: null);
        string once = folder.File("digits.onnx");

        CompressionOutcome second = ModelCompressor.Compress(new CompressionRequest(once, folder.File("twice.onnx"))
        {
            Settings = CompressionSettings.Default.Set(EvaluationSettings.Validate, false),
        });

        Assert.Equal(3, first.Report.Changed.Count);
        Assert.Empty(second.Report.Changed);
        string warning = Assert.Single(second.Report.Warnings, w => w.StartsWith(DiagnosticCodes.NothingCompressed, StringComparison.Ordinal));
        Assert.Contains("the model is already quantized (integer constants)", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(second.Report.LeftAlone, s => s.Reason.Contains("computed at run time", StringComparison.Ordinal));

        // The standard form is recognized weight by weight.
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("standard.onnx"))
        {
            Settings = CompressionSettings.Default.Set(QuantizationSettings.StandardOps, true).Set(EvaluationSettings.Validate, false),
        });
        CompressionOutcome third = ModelCompressor.Compress(new CompressionRequest(folder.File("standard.onnx"), folder.File("standard-twice.onnx"))
        {
            Settings = CompressionSettings.Default.Set(EvaluationSettings.Validate, false),
        });
        Assert.Equal(3, third.Report.LeftAlone.Count(s => s.Reason == "already quantized (computed from integer constants: DequantizeLinear, or Cast and Mul)"));
    }

    private string Write(string json)
    {
        string path = folder.File("overrides.json");
        File.WriteAllText(path, json);
        return path;
    }

    private CompressionOutcome Compress(string? overrides, CompressionSettings? settings = null)
    {
        settings ??= CompressionSettings.Default;
        if (overrides is not null)
        {
            settings = settings.Set(SettingsCatalog.Overrides, overrides);
        }

        return ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx"))
        {
            Settings = settings.Set(EvaluationSettings.Validate, false),
        });
    }
}
