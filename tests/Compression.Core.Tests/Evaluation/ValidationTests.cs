using Compression.Core.Passes.Quantization;
using System.Text.Json;
using Compression.Core.Tests.Support;
using Compression.Core.Evaluation;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Evaluation;

/// <summary>Validation in ONNX Runtime: turned off, fed by the user's tensors, and failing on a model that does not run.</summary>
public sealed class ValidationTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Without_validation_the_model_is_written_with_an_OCB0200_warning_and_no_validation_section()
    {
        // ONNX Runtime cannot be unloaded from this process, so this shows the settings path only: with Validate=false
        // nothing asks for ONNX Runtime (the CLI tests run the tool without the library to show the rest).
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx"))
        {
            ReportPath = folder.File("report.json"),
            Settings = CompressionSettings.Default.Set(EvaluationSettings.Validate, false),
        });

        CompressionWarning warning = Assert.Single(outcome.Warnings);
        Assert.Equal(DiagnosticCodes.ValidationDisabled, warning.Code);
        Assert.Null(outcome.Report.Validation);
        Assert.Equal("false", outcome.Report.Settings.Single(s => s.Name == "Validate").Value);
        Assert.Equal([$"{DiagnosticCodes.ValidationDisabled}: {warning.Message}"], outcome.Report.Warnings);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(folder.File("report.json")));
        Assert.False(report.RootElement.TryGetProperty("validation", out _));
        Assert.True(File.Exists(folder.File("digits.onnx")) && File.Exists(folder.File("digits.onnx.signature")));
    }

    [Fact]
    public void A_model_older_than_ONNX_Runtime_runs_is_compared_with_the_original_raised_to_the_opset_of_the_compressed_model()
    {
        // test_Linear: a Gemm at opset 6, which ONNX Runtime (1.23 and 1.31 alike) does not run.
        string model = Path.Combine(AssemblyMetadata.OnnxTestDataDir, "pytorch-converted", "test_Linear", "model.onnx");

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("linear.onnx"))
        {
            Settings = CompressionSettings.Default.Set(QuantizationSettings.WeightThreshold, 16L).Set(QuantizationSettings.DynamicThreshold, 0L),
        });

        // Dynamic MatMulInteger needs opset 11 (DynamicQuantizeLinear).
        Assert.Equal((6L, 11L), (outcome.Report.Opset!.From, outcome.Report.Opset.To));
        ValidationResult validation = outcome.Report.Validation!;
        Assert.Equal("original raised to opset 7", validation.Reference);
        OutputComparison output = Assert.Single(validation.Outputs);
        Assert.True(output.CosineSimilarity > 0.999, $"cosine {output.CosineSimilarity}");
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("none")]
    public void A_model_older_than_ONNX_Runtime_runs_with_nothing_to_quantize_is_written_raised_to_opset_7_and_reproduces_its_outputs(string quantize)
    {
        // test_Linear with default settings: its Gemm weight (under WeightThreshold) stays float, and the model is
        // raised to opset 7 as it is read, so that both the reference and the written model run in ONNX Runtime.
        string testDir = Path.Combine(AssemblyMetadata.OnnxTestDataDir, "pytorch-converted", "test_Linear");

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(Path.Combine(testDir, "model.onnx"), folder.File("linear.onnx"))
        {
            Settings = CompressionSettings.Default.Set(QuantizationSettings.Quantize, quantize),
        });

        Assert.Empty(outcome.Report.Changed);
        Assert.Equal((6L, 7L), (outcome.Report.Opset!.From, outcome.Report.Opset.To));
        ValidationResult validation = outcome.Report.Validation!;
        Assert.Equal("original raised to opset 7", validation.Reference);
        Assert.Equal(0, Assert.Single(validation.Outputs).MaxAbsError);
        if (quantize == "int8")
        {
            CompressionWarning nothing = Assert.Single(outcome.Warnings);
            Assert.Equal(DiagnosticCodes.NothingCompressed, nothing.Code);
            Assert.Contains("the model is copied with only its opset raised from 6 to 7", nothing.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(outcome.Warnings);
        }

        // The written model runs in ONNX Runtime and computes the suite's expected output.
        ModelProto written = OnnxModelFile.Load(folder.File("linear.onnx"));
        Assert.Equal(7, written.OpsetImport.Single(o => o.Domain.Length == 0).Version);
        using var session = new OnnxSession(folder.File("linear.onnx"));
        string data = Path.Combine(testDir, "test_data_set_0");
        OnnxTensor actual = session.Run(new Dictionary<string, OnnxTensor>
        {
            [session.Inputs[0].Name] = TensorConversion.ToOnnxTensor(OnnxDataFile.LoadTensor(Path.Combine(data, "input_0.pb"))),
        }).Values.Single();
        float[] expected = OnnxDataFile.LoadTensor(Path.Combine(data, "output_0.pb")).ToArray<float>();
        float[] values = actual.As<float>().ToArray();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - values[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"element {i}: {values[i]}, expected {expected[i]}");
        }
    }

    [Theory]
    [InlineData("pixels.pb", "pixels")]
    [InlineData("input_0.pb", "")]
    public void A_validation_data_folder_is_used_instead_of_synthesized_inputs_and_named_in_the_report(string fileName, string tensorName)
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        OnnxTensor<float> images = testSet.Images(12);
        string data = folder.File("validation");
        Directory.CreateDirectory(data);
        OnnxDataFile.Save(TensorValues.Create<float>(tensorName, [12, 64], images.Span), Path.Combine(data, fileName));

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx"))
        {
            Settings = CompressionSettings.Default.Set(EvaluationSettings.ValidationData, data),
        });

        ValidationResult validation = outcome.Report.Validation!;
        Assert.Equal(12, validation.Samples);
        Assert.Equal(data, validation.Source);
        ValidationInput input = Assert.Single(validation.Inputs);
        Assert.Equal(("pixels", "float", fileName), (input.Name, input.ElementType, input.Origin));
        Assert.Equal([12L, 64L], input.Shape);

        // The figures are those of these images: rerun both models on them.
        using var original = new OnnxSession(RepositoryPaths.DigitsModel, Ort.Options());
        using var compressed = new OnnxSession(folder.File("digits.onnx"), Ort.Options(outcome.Signature.SessionConfig));
        OnnxTensor[] expected = original.Run(["pixels"], [images], []);
        OnnxTensor[] actual = compressed.Run(["pixels"], [images], []);
        for (int i = 0; i < expected.Length; i++)
        {
            OutputComparison comparison = validation.Outputs[i];
            Assert.Equal(original.Outputs[i].Name, comparison.Name);
            Assert.Equal(expected[i].ElementCount, comparison.Elements);
            Assert.Equal(Ort.MaxAbsDifference(expected[i].As<float>().Span, actual[i].As<float>().Span), comparison.MaxAbsError, precision: 9);
            Assert.Equal(Ort.Cosine(expected[i].As<float>().Span, actual[i].As<float>().Span), comparison.CosineSimilarity!.Value, precision: 9);
        }
    }

    [Fact]
    public void A_model_that_ONNX_Runtime_cannot_load_fails_with_OCB0101_and_writes_nothing()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 32], SeededValues.Uniform(1, 64 * 32))
            .Node("MatMul", ["x", "w"], ["xw"])
            .Node("NoSuchOperator", ["xw"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();
        string input = folder.File("broken.onnx");
        OnnxModelFile.Save(model, input);

        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(input, folder.File("out", "broken.onnx"))));

        Assert.Equal(DiagnosticCodes.OriginalModelFailsToRun, error.Code);
        Assert.Contains("NoSuchOperator", error.Message, StringComparison.Ordinal);
        Assert.Equal(["broken.onnx"], folder.ListFiles());
    }

    [Fact]
    public void A_model_that_fails_while_running_fails_with_OCB0101_and_writes_nothing()
    {
        // Loads, but reshaping 32 values per row into 5 columns fails on every input.
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 32], SeededValues.Uniform(2, 64 * 32))
            .Initializer("shape", [2], new long[] { -1, 5 })
            .Node("MatMul", ["x", "w"], ["xw"])
            .Node("Reshape", ["xw", "shape"], ["y"])
            .Output("y", DataType.Float, "rows", 5)
            .Build();
        string input = folder.File("fails.onnx");
        OnnxModelFile.Save(model, input);

        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(input, folder.File("out", "fails.onnx"))));

        Assert.Equal(DiagnosticCodes.OriginalModelFailsToRun, error.Code);
        Assert.Equal(["fails.onnx"], folder.ListFiles());
    }
}
