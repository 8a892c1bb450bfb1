using Compression.Core.Settings;
using Compression.Core.Passes;
using System.Globalization;
using System.Text.Json;
using Compression.Core.Passes.Quantization;
using Compression.Core.Reporting;
using Compression.Core.Tests.Support;
using Compression.Core.Evaluation;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;

namespace Compression.Core.Tests.EndToEnd;

/// <summary>The digits MLP through <see cref="ModelCompressor.Compress"/>: what a user checks on the files it writes.</summary>
public sealed class DigitsCompressionTests : IClassFixture<CompressedDigits>
{
    /// <summary>The sample's documented test accuracy (samples/Digits/Data/README.md: 351/360).</summary>
    private const double DocumentedOriginalAccuracy = 351.0 / 360;

    private readonly CompressedDigits digits;

    public DigitsCompressionTests(CompressedDigits digits)
    {
        this.digits = digits;
    }

    [Fact]
    public void The_compressed_model_is_at_most_30_percent_of_the_original()
    {
        long original = new FileInfo(RepositoryPaths.DigitsModel).Length;
        long compressed = new FileInfo(digits.OutputPath).Length;

        Assert.True(compressed <= 0.3 * original, $"{compressed} bytes is more than 0.3 x {original} bytes.");
    }

    [Fact]
    public void Accuracy_on_the_test_split_stays_within_one_point_of_the_original()
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        var compressedOptions = new OnnxSessionOptions();
        compressedOptions.ConfigEntries[WeightQuantizer.DisableQdqConfigKey] = "1";

        double originalAccuracy;
        double compressedAccuracy;
        using (var original = new OnnxSession(RepositoryPaths.DigitsModel))
        using (var compressed = new OnnxSession(digits.OutputPath, compressedOptions))
        {
            originalAccuracy = testSet.Accuracy(original);
            compressedAccuracy = testSet.Accuracy(compressed);
        }

        Assert.Equal(360, testSet.Count);
        Assert.Equal(DocumentedOriginalAccuracy, originalAccuracy, precision: 6);
        Assert.True(Math.Abs(compressedAccuracy - originalAccuracy) <= 0.01,
            $"Accuracy moved from {originalAccuracy:P2} to {compressedAccuracy:P2}, more than one point.");
    }

    [Fact]
    public void The_compressed_model_is_also_accurate_without_the_session_option()
    {
        // Slower (ONNX Runtime keeps the DequantizeLinear nodes) but the same arithmetic.
        DigitsTestSet testSet = DigitsTestSet.Load();
        using var original = new OnnxSession(RepositoryPaths.DigitsModel);
        using var compressed = new OnnxSession(digits.OutputPath);

        Assert.True(Math.Abs(testSet.Accuracy(compressed) - testSet.Accuracy(original)) <= 0.01);
    }

    [Fact]
    public void The_report_sizes_are_the_file_sizes()
    {
        SizeReport size = digits.Outcome.Report.Size;

        Assert.Equal(new FileInfo(RepositoryPaths.DigitsModel).Length, size.Original);
        Assert.Equal(new FileInfo(digits.OutputPath).Length, size.Compressed);
        Assert.Equal(Math.Round((double)size.Compressed / size.Original, 4), size.Ratio);
    }

    [Fact]
    public void The_report_lists_every_large_MatMul_weight_with_its_measured_error()
    {
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        ModelProto compressed = OnnxModelFile.Load(digits.OutputPath);
        var largeMatMulWeights = original.Graph.Node
            .Where(n => n.OpType == "MatMul")
            .Select(n => original.Graph.Initializer.Single(t => t.Name == n.Input[1]))
            .Where(t => TensorShape.ElementCount(t.Dims) >= QuantizationSettings.WeightThreshold.Default)
            .ToList();

        IReadOnlyList<TensorChange> reported = digits.Outcome.Report.Changed;
        Assert.Equal(largeMatMulWeights.Select(t => t.Name), reported.Select(w => w.Name));
        // Every float tensor left float is listed with its reason: here the biases and scales, all below the threshold.
        Assert.NotEmpty(digits.Outcome.Report.LeftAlone);
        Assert.All(digits.Outcome.Report.LeftAlone, s => Assert.Contains("below the weight threshold of 1024", s.Reason, StringComparison.Ordinal));
        foreach ((TensorProto weight, TensorChange entry) in largeMatMulWeights.Zip(reported))
        {
            long elements = TensorShape.ElementCount(weight.Dims);
            long channels = weight.Dims[1];
            Assert.Equal(weight.Dims, entry.Shape);
            Assert.Equal(1, entry.Axis);
            Assert.Equal(["MatMul"], entry.OpTypes);
            Assert.Equal(4 * elements, entry.BytesBefore);
            // int8 levels and a float scale per channel (the weights are under the dynamic threshold: folded to float at load).
            Assert.Equal(elements + (4 * channels), entry.BytesAfter);
            Assert.Equal(MeasuredDequantizationError(weight, compressed), entry.MaxAbsError);
        }
    }

    [Fact]
    public void The_report_validation_figures_are_what_a_rerun_on_the_same_inputs_measures()
    {
        ValidationResult validation = digits.Outcome.Report.Validation!;
        Assert.Equal(OnnxRuntimeLibrary.Version, validation.OnnxRuntimeVersion);
        Assert.Equal(EvaluationSettings.ValidationSamples.Default, validation.Samples);
        ValidationInput input = Assert.Single(validation.Inputs);
        Assert.Equal(("pixels", "float", "synthesized"), (input.Name, input.ElementType, input.Origin));
        Assert.Equal([InputSynthesizer.BatchSize, 64], input.Shape);

        using var original = new OnnxSession(RepositoryPaths.DigitsModel, Ort.Options());
        using var compressed = new OnnxSession(digits.OutputPath, Ort.Options(digits.Outcome.Signature.SessionConfig));
        IReadOnlyList<long[]> shapes = InputSynthesizer.ResolveShapes(original.Inputs);
        var measured = original.Outputs.Select(o => new MeasuredOutput(o.Name)).ToArray();
        for (int sample = 0; sample < validation.Samples; sample++)
        {
            OnnxTensor[] inputs = InputSynthesizer.Create(original.Inputs, shapes, sample);
            OnnxTensor[] expected = original.Run(["pixels"], inputs, []);
            OnnxTensor[] actual = compressed.Run(["pixels"], inputs, []);
            for (int i = 0; i < measured.Length; i++)
            {
                measured[i].Add(expected[i].As<float>().Span, actual[i].As<float>().Span);
            }
        }

        Assert.Equal(measured.Select(m => m.Name), validation.Outputs.Select(o => o.Name));
        foreach ((MeasuredOutput expected, OutputComparison reported) in measured.Zip(validation.Outputs))
        {
            Assert.Equal(expected.Elements, reported.Elements);
            Assert.Equal(expected.MaxAbsError, reported.MaxAbsError, precision: 9);
            Assert.Equal(expected.SumAbsError / expected.Elements, reported.MeanAbsError, precision: 9);
            Assert.Equal(expected.LowestCosine, reported.CosineSimilarity!.Value, precision: 9);
            Assert.True(reported.CosineSimilarity > 0.999, $"Output '{reported.Name}' has cosine {reported.CosineSimilarity}.");
        }
    }

    [Fact]
    public void The_report_file_is_the_reports_JSON()
    {
        string json = File.ReadAllText(digits.ReportPath);
        CompressionReport report = digits.Outcome.Report;

        Assert.Equal(report.ToJson(), json);
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        Assert.Equal(CompressedDigits.SourceName, root.GetProperty("source").GetString());
        Assert.Equal("digits.onnx", root.GetProperty("output").GetString());
        Assert.Equal($"onnx-compress {ModelCompressor.Version}", root.GetProperty("tool").GetString());
        JsonElement quantize = root.GetProperty("settings").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "Quantize");
        Assert.Equal("int8", quantize.GetProperty("value").GetString());
        Assert.Equal("default", quantize.GetProperty("source").GetString());
        Assert.Equal(SettingsCatalog.All.Count, root.GetProperty("settings").GetArrayLength());
        Assert.Equal(report.Size.Original, root.GetProperty("size").GetProperty("original").GetInt64());
        Assert.Equal(report.Size.Compressed, root.GetProperty("size").GetProperty("compressed").GetInt64());
        Assert.Equal(report.Size.Ratio, root.GetProperty("size").GetProperty("ratio").GetDouble());
        Assert.Empty(root.GetProperty("sessionConfig").EnumerateObject());
        JsonElement pass = Assert.Single(root.GetProperty("passes").EnumerateArray());
        Assert.Equal("weight-quantization", pass.GetProperty("pass").GetString());
        Assert.Equal(3, pass.GetProperty("changed").GetArrayLength());
        Assert.Equal(2, root.GetProperty("validation").GetProperty("outputs").GetArrayLength());
        Assert.False(root.TryGetProperty("opset", out _), "An opset 17 model needs no opset change.");
        Assert.Empty(root.GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public void The_report_gives_each_tensors_bytes_readers_and_bits_and_the_time_taken()
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(digits.ReportPath));
        JsonElement pass = document.RootElement.GetProperty("passes")[0];
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        var readers = original.Graph.Node.SelectMany(n => n.Input.Select(i => (Input: i, n.Name))).ToLookup(p => p.Input, p => p.Name);
        foreach (JsonElement changed in pass.GetProperty("changed").EnumerateArray())
        {
            string name = changed.GetProperty("name").GetString()!;
            TensorProto weight = original.Graph.Initializer.Single(t => t.Name == name);
            long elements = weight.Dims.Aggregate(1L, (a, b) => a * b);
            Assert.Equal(elements * sizeof(float), changed.GetProperty("bytesBefore").GetInt64());
            long after = changed.GetProperty("bytesAfter").GetInt64();
            Assert.InRange(after, elements, elements + (elements / 4));
            Assert.Equal(Math.Round(after * 8.0 / elements, 4), changed.GetProperty("bitsPerWeight").GetDouble());
            Assert.Equal(0, changed.GetProperty("sparsity").GetDouble());
            Assert.Equal(readers[name], changed.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        }

        JsonElement[] leftAlone = [.. pass.GetProperty("leftAlone").EnumerateArray()];
        Assert.NotEmpty(leftAlone);
        foreach (JsonElement tensor in leftAlone)
        {
            string name = tensor.GetProperty("name").GetString()!;
            TensorProto bias = original.Graph.Initializer.Single(t => t.Name == name);
            Assert.Equal(bias.Dims, tensor.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            Assert.Equal(bias.Dims.Aggregate(1L, (a, b) => a * b) * sizeof(float), tensor.GetProperty("bytes").GetInt64());
            Assert.Equal(readers[name], tensor.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        }

        // Measured, so not compared between runs: the whole and each phase, in the order they ran.
        JsonElement timing = document.RootElement.GetProperty(CompressionReport.TimingProperty);
        long total = timing.GetProperty("durationMilliseconds").GetInt64();
        long[] phases = [.. timing.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("durationMilliseconds").GetInt64())];
        Assert.Equal(["read", "reference", "compress", "validate"], timing.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.All(phases, p => Assert.True(p >= 0));
        Assert.True(phases.Sum() <= total, $"The phases add up to {phases.Sum()} ms, more than the whole's {total} ms.");
    }

    [Fact]
    public void The_signature_file_has_exactly_the_lines_the_format_defines()
    {
        ModelProto model = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        string description = model.DocString.Trim();
        Assert.DoesNotContain('\n', description);
        long values = digits.Outcome.Report.Changed.Sum(w => w.Shape.Aggregate(1L, (a, b) => a * b));
        string[] expected =
        [
            "# Compression.Build model signature. Generated; do not edit.",
            "format\t1",
            $"source\t{CompressedDigits.SourceName}",
            $"description\t{description}",
            string.Create(CultureInfo.InvariantCulture, $"compression\t8-bit, folded to float at load: 3 MatMul weight tensors ({values:N0} values), symmetric, one scale per output channel"),
            $"size\t{new FileInfo(RepositoryPaths.DigitsModel).Length}\t{new FileInfo(digits.OutputPath).Length}",
            "input\tpixels\tfloat\t2\t$batch\t64",
            "output\tlogits\tfloat\t2\t$batch\t10",
            "output\tprobabilities\tfloat\t2\t$batch\t10",
        ];

        string text = File.ReadAllText(digits.SignaturePath);

        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain('\r', text);
        Assert.Equal(expected, text[..^1].Split('\n'));
        Assert.Equal(digits.Outcome.Signature.ToText(), text);
    }

    /// <summary>The largest difference between the original weight and what the compressed model's MatMulInteger multiplies by.</summary>
    private static double MeasuredDequantizationError(TensorProto weight, ModelProto compressed)
    {
        // The folded form: Cast of the int8 levels, then Mul by the scales, under the weight's own name.
        NodeProto cast = compressed.Graph.Node.Single(n => n.OpType == "Cast" && n.Input[0] == weight.Name + "_quantized");
        Assert.Contains(compressed.Graph.Node, n => n.OpType == "Mul" && n.Input[0] == cast.Output[0] && n.Output[0] == weight.Name);
        sbyte[] levels = compressed.Graph.Initializer.Single(t => t.Name == cast.Input[0]).ToArray<sbyte>();
        float[] scales = compressed.Graph.Initializer.Single(t => t.Name == weight.Name + "_scale").ToArray<float>();
        float[] values = weight.ToArray<float>();
        int channels = scales.Length;
        double max = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float restored = levels[i] * scales[i % channels];
            max = Math.Max(max, Math.Abs((double)values[i] - restored));
        }

        return max;
    }

    private sealed class MeasuredOutput(string name)
    {
        public string Name { get; } = name;

        public long Elements { get; private set; }

        public double MaxAbsError { get; private set; }

        public double SumAbsError { get; private set; }

        public double LowestCosine { get; private set; } = 1;

        public void Add(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
        {
            Elements += expected.Length;
            MaxAbsError = Math.Max(MaxAbsError, Ort.MaxAbsDifference(expected, actual));
            for (int i = 0; i < expected.Length; i++)
            {
                SumAbsError += Math.Abs((double)expected[i] - actual[i]);
            }

            LowestCosine = Math.Min(LowestCosine, Ort.Cosine(expected, actual));
        }
    }
}
