using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.EndToEnd;

/// <summary>
/// Models that keep their weights in a data file beside the .onnx file, as large exports do: the compressed model keeps
/// its weights in <c>&lt;output&gt;.data</c> too, and so does any model whose output would exceed protobuf's 2 GiB limit.
/// </summary>
public sealed class ExternalDataTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_model_with_external_weights_is_compressed_to_a_model_with_external_data_named_after_the_output()
    {
        string model = SaveDigitsWithExternalWeights();
        long originalBytes = new FileInfo(model).Length + new FileInfo(folder.File("digits.weights")).Length;

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx")));

        Assert.Equal(["digits.onnx", "digits.onnx.data", "digits.onnx.signature"],
            Directory.GetFiles(folder.File("out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        long dataBytes = new FileInfo(folder.File("out", "digits.onnx.data")).Length;
        Assert.Equal(originalBytes, outcome.Report.Size.Original);
        Assert.Equal(new FileInfo(folder.File("out", "digits.onnx")).Length + dataBytes, outcome.Report.Size.Compressed);
        Assert.Equal(outcome.Report.Size.Compressed, outcome.Signature.CompressedBytes);
        Assert.Equal(3, outcome.Report.Changed.Count);
        Assert.Contains(outcome.Report.Notes, n => n.Contains("'digits.onnx.data'", StringComparison.Ordinal));
        Assert.All(outcome.Report.Validation!.Outputs, o => Assert.True(o.CosineSimilarity > 0.999, $"{o.Name}: cosine {o.CosineSimilarity}"));

        // Every tensor of 1024 bytes or more is in the data file, at a relative location and a 4096-aligned offset, none overlapping.
        ModelProto compressed = OnnxModelFile.Load(folder.File("out", "digits.onnx"), loadExternalData: false);
        ExternalDataReference[] references = ModelTensors.Enumerate(compressed)
            .Where(t => t.DataLocation == TensorProto.Types.DataLocation.External)
            .Select(ExternalDataReference.FromTensor).ToArray();
        // The three weights' int8 levels, and the scales and biases of the hidden layers (256 floats, 1024 bytes each).
        Assert.Equal(7, references.Length);
        Assert.All(references, r => Assert.Equal("digits.onnx.data", r.Location));
        Assert.All(references, r => Assert.Equal(0, r.Offset % ExternalDataWriter.Alignment));
        ExternalDataReference[] inFileOrder = references.OrderBy(r => r.Offset).ToArray();
        Assert.All(inFileOrder.Zip(inFileOrder.Skip(1)), pair => Assert.True(pair.First.Offset + pair.First.Length <= pair.Second.Offset));
        Assert.Equal(dataBytes, inFileOrder[^1].Offset + inFileOrder[^1].Length);
        Assert.All(ModelTensors.Enumerate(compressed).Where(t => t.DataLocation != TensorProto.Types.DataLocation.External),
            t => Assert.True(t.RawData.Length < SettingsCatalog.ExternalDataThreshold.Default, $"{t.Name}: {t.RawData.Length} bytes left inline"));

        // A quarter of the float weights, plus at most a 4 KiB page of alignment per tensor in the data file.
        Assert.True(outcome.Report.Size.Compressed <= (0.27 * originalBytes) + (references.Length * ExternalDataWriter.Alignment),
            $"{outcome.Report.Size.Compressed} of {originalBytes}");

        // ONNX Runtime loads the output from its folder and computes what the same quantized model computes as one file.
        Assert.Equal(RunFromFile(folder.File("out", "digits.onnx"), outcome), RunInline(folder.File("out", "digits.onnx"), outcome));
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("single", "digits.onnx"))
        {
            Settings = CompressionSettings.Default.Set(EvaluationSettings.Validate, false),
        });
        Assert.Equal(RunFromFile(folder.File("single", "digits.onnx"), outcome), RunFromFile(folder.File("out", "digits.onnx"), outcome));
    }

    [Fact]
    public void A_model_with_external_data_is_restored_from_the_cache_with_its_data_file_and_the_same_bytes()
    {
        string model = SaveDigitsWithExternalWeights();
        var request = new CompressionRequest(model, folder.File("first", "digits.onnx"))
        {
            CacheDirectory = folder.File("cache"),
            ReportPath = folder.File("first", "digits.report.json"),
        };

        CompressionOutcome first = ModelCompressor.Compress(request);
        CompressionOutcome second = ModelCompressor.Compress(request with { OutputPath = folder.File("second", "digits.onnx"), ReportPath = folder.File("second", "digits.report.json") });

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        string[] names = ["digits.onnx", "digits.onnx.data", "digits.onnx.signature", "digits.report.json"];
        Assert.Equal(names, Directory.GetFiles(folder.File("second")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(names, name => Assert.True(File.ReadAllBytes(folder.File("first", name)).AsSpan().SequenceEqual(File.ReadAllBytes(folder.File("second", name))), name));
        // The outcome read back from the entry is the compression's: the report and signature as they were made.
        Assert.Equal(first.Report.ToJson(), second.Report.ToJson());
        Assert.Equal(first.Signature.ToText(), second.Signature.ToText());
        string entry = Assert.Single(Directory.GetDirectories(folder.File("cache")));
        Assert.Equal(["manifest", "model.onnx", "model.onnx.data", "report.json", "signature"],
            Directory.GetFiles(entry).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // No staging folder is left beside the outputs.
        Assert.Empty(Directory.GetDirectories(folder.File("second")));
    }

    [Fact]
    public void A_later_compression_to_one_file_removes_the_data_file_an_earlier_one_wrote()
    {
        string withData = SaveDigitsWithExternalWeights();
        string output = folder.File("out", "digits.onnx");
        ModelCompressor.Compress(new CompressionRequest(withData, output));
        Assert.True(File.Exists(output + ".data"));

        // The same output from the digits model as one file: the build must not find, and copy, the earlier data file.
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, output));

        Assert.Equal(["digits.onnx", "digits.onnx.signature"],
            Directory.GetFiles(folder.File("out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        ModelProto compressed = OnnxModelFile.Load(output, loadExternalData: false);
        Assert.DoesNotContain(ModelTensors.Enumerate(compressed), t => t.DataLocation == TensorProto.Types.DataLocation.External);
    }

    [Fact]
    public void Tensors_left_uncompressed_are_copied_from_the_original_data_file_unchanged()
    {
        string model = SaveDigitsWithExternalWeights();
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))
        {
            Settings = CompressionSettings.Default.Set(QuantizationSettings.Quantize, QuantizationSettings.None),
        });

        Assert.Equal(0, outcome.Report.Validation!.Outputs.Max(o => o.MaxAbsError));
        ModelProto original = OnnxModelFile.Load(model);
        ModelProto compressed = OnnxModelFile.Load(folder.File("out", "digits.onnx"));
        Assert.Equal(original.Graph.Initializer.Select(t => (t.Name, t.RawData.ToBase64())), compressed.Graph.Initializer.Select(t => (t.Name, t.RawData.ToBase64())));
        Assert.Equal(RunFromFile(RepositoryPaths.DigitsModel, outcome), RunFromFile(folder.File("out", "digits.onnx"), outcome));
    }

    [Fact]
    public void A_model_whose_output_would_exceed_the_single_file_limit_keeps_its_weights_in_external_data()
    {
        // A test-only limit of 64 KiB stands for protobuf's 2 GiB: the int8 digits model is about 90 KB.
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "digits.onnx"))
        {
            SingleFileLimit = 64 << 10,
        });

        Assert.True(new FileInfo(folder.File("out", "digits.onnx")).Length < 64 << 10);
        Assert.True(new FileInfo(folder.File("out", "digits.onnx.data")).Length > 64 << 10);
        Assert.All(outcome.Report.Validation!.Outputs, o => Assert.True(o.CosineSimilarity > 0.999, $"{o.Name}: cosine {o.CosineSimilarity}"));
        Assert.Equal(RunInline(folder.File("out", "digits.onnx"), outcome), RunFromFile(folder.File("out", "digits.onnx"), outcome));
    }

    [Fact]
    public void A_model_too_large_even_with_external_data_fails_with_OCB0006_and_writes_nothing()
    {
        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "digits.onnx"))
            {
                SingleFileLimit = 64 << 10,
                Settings = CompressionSettings.Default.Set(SettingsCatalog.ExternalDataThreshold, 1L << 20),
            }));

        Assert.Equal(DiagnosticCodes.ModelTooLarge, error.Code);
        Assert.Contains("Lower ExternalDataThreshold", error.Message, StringComparison.Ordinal);
        Assert.Empty(folder.Contents());
    }

    [Fact]
    public void A_missed_gate_leaves_neither_the_data_file_nor_the_staging_folder()
    {
        string model = SaveDigitsWithExternalWeights();

        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))
            {
                Settings = CompressionSettings.Default.Set(EvaluationSettings.MaxOutputError, 0.0),
            }));

        Assert.Equal(DiagnosticCodes.GateMissed, error.Code);
        Assert.Equal(["digits.onnx", "digits.weights"], folder.Contents().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_output_that_cannot_be_moved_into_place_leaves_no_data_file_and_no_staging_folder()
    {
        string model = SaveDigitsWithExternalWeights();
        // The signature's path is a folder: the model and its data file are staged, then undone when the signature fails.
        Directory.CreateDirectory(folder.File("out", "digits.onnx.signature"));

        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))));

        Assert.Equal(DiagnosticCodes.OutputNotWritten, error.Code);
        Assert.Equal(["digits.onnx", "digits.weights", "out", Path.Combine("out", "digits.onnx.signature")], folder.Contents().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_weight_a_pass_moved_to_the_data_file_reads_back_with_its_values()
    {
        string path = SaveDigitsWithExternalWeights();
        Model model = Model.Load(path);
        using var data = new FileStream(folder.File("spill.data"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        model.DataFile = new ExternalDataWriter(data, "spill.data");
        model.DataFileThreshold = 1024;
        Value weight = model.Graph.Initializers.First(v => v.Name == "fc1.weight");
        float[] values = weight.LoadInitializer().View<float>().Span.ToArray();

        model.Spill(weight.Initializer!);

        Assert.True(model.DataFile.Holds(weight.Initializer!));
        Assert.Empty(weight.Initializer!.RawData);
        Assert.Equal(values.Max(), weight.ReadInitializer(t => t.View<float>().Span.ToArray().Max()));
        Assert.Equal(values, weight.LoadInitializer().View<float>().Span.ToArray());
        Assert.False(model.DataFile.Holds(weight.Initializer!));
    }

    [Fact]
    public void Compressing_a_model_with_external_data_twice_gives_identical_model_and_data_files()
    {
        string model = SaveDigitsWithExternalWeights();
        foreach (string run in new[] { "first", "second" })
        {
            ModelCompressor.Compress(new CompressionRequest(model, folder.File(run, "digits.onnx")) { SourceName = "digits.onnx" });
        }

        foreach (string file in new[] { "digits.onnx", "digits.onnx.data", "digits.onnx.signature" })
        {
            Assert.True(File.ReadAllBytes(folder.File("first", file)).AsSpan().SequenceEqual(File.ReadAllBytes(folder.File("second", file))),
                $"{file} differs between two runs.");
        }
    }

    [Fact]
    public void A_model_whose_data_file_is_missing_fails_with_OCB0002_and_writes_nothing()
    {
        string model = SaveDigitsWithExternalWeights();
        File.Delete(folder.File("digits.weights"));

        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))));

        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Contains("digits.weights", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("loadExternalData", error.Message, StringComparison.Ordinal);
        Assert.Equal(["digits.onnx"], folder.ListFiles());
    }

    /// <summary>The outputs of the model at <paramref name="path"/>, loaded by ONNX Runtime from its folder, on the first validation input.</summary>
    private static float[][] RunFromFile(string path, CompressionOutcome outcome)
    {
        using var session = new OnnxSession(path, Ort.Options(outcome.Signature.SessionConfig));
        return Run(session);
    }

    /// <summary>The outputs of the model at <paramref name="path"/> with its external data read into it, run from memory.</summary>
    private static float[][] RunInline(string path, CompressionOutcome outcome)
    {
        ModelProto model = OnnxModelFile.Load(path);
        Assert.DoesNotContain(ModelTensors.Enumerate(model), t => t.DataLocation == TensorProto.Types.DataLocation.External);
        using var session = new OnnxSession((ReadOnlyMemory<byte>)OnnxModelFile.ToBytes(model), Ort.Options(outcome.Signature.SessionConfig));
        return Run(session);
    }

    private static float[][] Run(OnnxSession session)
    {
        OnnxTensor[] inputs = InputSynthesizer.Create(session.Inputs, InputSynthesizer.ResolveShapes(session.Inputs), 0);
        return session.Run(session.Inputs.Select(i => i.Name).ToArray(), inputs, []).Select(o => o.As<float>().Span.ToArray()).ToArray();
    }

    [Fact]
    public void A_data_file_linked_from_inside_the_models_folder_is_read()
    {
        string model = SaveDigitsWithExternalWeights(location: "alias.weights", dataFile: folder.File("digits.weights"));
        File.CreateSymbolicLink(folder.File("alias.weights"), "digits.weights");

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx")));

        Assert.Equal(3, outcome.Report.Changed.Count);
        Assert.All(outcome.Report.Validation!.Outputs, o => Assert.True(o.CosineSimilarity > 0.999, $"{o.Name}: cosine {o.CosineSimilarity}"));
    }

    [Theory]
    [InlineData("linked file")]
    [InlineData("linked folder")]
    [InlineData("named pipe")]
    [InlineData("folder")]
    [InlineData("offset past the end")]
    public async Task External_data_outside_the_models_folder_or_not_a_regular_file_fails_with_OCB0002_and_writes_nothing(string kind)
    {
        // The model sits in model/; the real weights lie in outside/, beside it.
        Directory.CreateDirectory(folder.File("model"));
        Directory.CreateDirectory(folder.File("outside"));
        string outsideData = folder.File("outside", "digits.weights");
        (string location, string? dataFile) = kind switch
        {
            "linked folder" => ("data/digits.weights", outsideData),
            "linked file" or "named pipe" or "folder" => ("digits.weights", outsideData),
            _ => ("digits.weights", folder.File("model", "digits.weights")),
        };
        string model = SaveDigitsWithExternalWeights(location, dataFile, folder.File("model", "digits.onnx"));
        switch (kind)
        {
            case "linked file":
                File.CreateSymbolicLink(folder.File("model", "digits.weights"), "../outside/digits.weights");
                break;
            case "linked folder":
                Directory.CreateSymbolicLink(folder.File("model", "data"), folder.File("outside"));
                break;
            case "named pipe":
                MakeNamedPipe(folder.File("model", "digits.weights"));
                break;
            case "folder":
                Directory.CreateDirectory(folder.File("model", "digits.weights"));
                break;
            default:
                // The data file lost its second half.
                byte[] bytes = File.ReadAllBytes(dataFile!);
                File.WriteAllBytes(dataFile!, bytes[..(bytes.Length / 2)]);
                break;
        }

        string[] before = folder.Contents();
        var compression = Task.Run(() => ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))));

        // A named pipe must be refused, not opened: opening one blocks until a writer comes.
        Assert.Same(compression, await Task.WhenAny(compression, Task.Delay(TimeSpan.FromSeconds(60))));
        CompressionException error = await Assert.ThrowsAsync<CompressionException>(() => compression);
        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Equal(model, error.ModelPath);
        Assert.Contains("'digits.weights'", error.Message.Replace("'data/digits.weights'", "'digits.weights'", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("Tensor '", error.Message, StringComparison.Ordinal);
        string expected = kind switch
        {
            "linked file" or "linked folder" => "outside the model's folder",
            "named pipe" => "not a regular file",
            "folder" => "is a folder",
            _ => "ends past the end",
        };
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, folder.Contents());
    }

    private static void MakeNamedPipe(string path)
    {
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>
    /// Writes the digits model with every initializer of 1024 or more elements in an external file, which the model
    /// names by <paramref name="location"/> and which is written at <paramref name="dataFile"/>.
    /// </summary>
    private string SaveDigitsWithExternalWeights(string location = "digits.weights", string? dataFile = null, string? modelPath = null)
    {
        ModelProto model = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        using (var data = new FileStream(dataFile ?? folder.File("digits.weights"), FileMode.CreateNew))
        {
            foreach (TensorProto tensor in model.Graph.Initializer.Where(t => TensorShape.ElementCount(t.Dims) >= 1024))
            {
                byte[] bytes = tensor.RawData.ToByteArray();
                long offset = data.Position;
                data.Write(bytes);
                new ExternalDataReference(location, offset, bytes.Length).ApplyTo(tensor);
            }
        }

        string path = modelPath ?? folder.File("digits.onnx");
        OnnxModelFile.Save(model, path);
        return path;
    }
}
