using System.Globalization;
using System.Text;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Core.Passes;
using Compression.Core.Passes.Quantization;
using Compression.Core.Reporting;
using Compression.Core.Settings;
using Compression.Core.Signature;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core;

/// <summary>One model to compress and where its results go.</summary>
/// <param name="InputPath">The original model.</param>
/// <param name="OutputPath">Where the compressed model goes.</param>
public sealed record CompressionRequest(string InputPath, string OutputPath)
{
    /// <summary>Where the signature goes; by default the output path plus <c>.signature</c>.</summary>
    public string? SignaturePath { get; init; }

    /// <summary>Where the JSON report goes; none by default.</summary>
    public string? ReportPath { get; init; }

    /// <summary>Where the list of files the compression read goes (the model, its external data, the overrides file, the
    /// sample folders), one per line, for the build's up-to-date check; none by default.</summary>
    public string? DependencyPath { get; init; }

    /// <summary>How the original model is named in the signature and report (the project-relative path in a
    /// build); by default <see cref="InputPath"/> as given.</summary>
    public string? SourceName { get; init; }

    /// <summary>The settings given for the model; what is not given takes its default.</summary>
    public CompressionSettings Settings { get; init; } = CompressionSettings.Default;
}

/// <summary>What a compression produced.</summary>
/// <param name="Report">Everything it did, as written to the report file.</param>
/// <param name="Signature">The signature, as written beside the model.</param>
/// <param name="Warnings">Warnings to show the user.</param>
public sealed record CompressionOutcome(CompressionReport Report, ModelSignature Signature, IReadOnlyList<CompressionWarning> Warnings);

/// <summary>
/// Compresses one model: load it into the IR, resolve its settings, run the passes, judge the result against the
/// original in ONNX Runtime (the original's outputs computed once), check the gates, then write the compressed model,
/// its signature and its report. Every file is written to a temporary file and moved into place, and nothing is
/// written when any step fails.
/// </summary>
public static class ModelCompressor
{
    /// <summary>The compressor's version, as reports name it.</summary>
    public static string Version { get; } = typeof(ModelCompressor).Assembly.GetName().Version is { } v
        ? $"{v.Major}.{v.Minor}.{v.Build}"
        : "0.0.0";

    /// <summary>Compresses the model <paramref name="request"/> names.</summary>
    /// <exception cref="CompressionException">Anything a user can fix, with its code.</exception>
    public static CompressionOutcome Compress(CompressionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return CompressModel(request);
        }
        catch (Exception e) when (e is not CompressionException)
        {
            // The checks at load turn every fault of the model found so far into a coded error; what still escapes is the
            // compressor's own fault, and is reported as one, with a code, rather than as a stack trace.
            throw new CompressionException(DiagnosticCodes.CompressorFault, request.InputPath,
                $"The compressor failed on '{request.InputPath}' ({e.GetType().Name}: {e.Message}). The model passed the checks at load, so this is " +
                "a fault in the compressor (or in ONNX Runtime, when validating); nothing was written. Report it with the model; meanwhile leave the model uncompressed (Quantize=none), " +
                "or the node named above (an overrides file).",
                e);
        }
    }

    private static CompressionOutcome CompressModel(CompressionRequest request)
    {
        string inputPath = Path.GetFullPath(request.InputPath);
        string outputPath = Path.GetFullPath(request.OutputPath);
        string signaturePath = Path.GetFullPath(request.SignaturePath ?? request.OutputPath + ModelSignature.FileSuffix);
        string sourceName = request.SourceName ?? request.InputPath;
        var warnings = new List<CompressionWarning>();

        (ModelProto proto, long originalBytes, IReadOnlyList<string> externalFiles) = LoadModel(inputPath);
        ResolvedSettings settings = SettingsResolver.Resolve(request.Settings, inputPath);
        bool validate = settings.Get(EvaluationSettings.Validate);
        CheckGatesNeedValidation(settings, validate, inputPath);
        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = ModelSignature.ReadInterface(proto);
        string? description = ModelSignature.FirstParagraph(proto.DocString);
        Model model = Model.FromProto(proto, inputPath);
        settings.Overrides?.CheckNodesExist(model, inputPath);

        // ONNX Runtime runs no model older than opset 7 (Gemm-6 and other operators of older opsets have no kernel), so such a
        // model is raised to 7 as it is read: the output then runs wherever the compressor's output is used, even when
        // nothing is quantized, and validation compares it with the raised original, unquantized, which ONNX Runtime runs.
        // Where the raise is refused, the model stays as it is and validation reports what ONNX Runtime says of it.
        OpsetChange? loadRaise = RaiseToRunnableOpset(model, inputPath);

        // The original runs once, before the passes change the model: every candidate is judged against its outputs.
        Evaluator? evaluator = null;
        if (validate)
        {
            byte[]? reference = loadRaise is null ? null : RaisedReference(model.ToProto(), inputPath);
            evaluator = Evaluator.Open(inputPath, reference, loadRaise is null ? Evaluator.OriginalReference : $"original raised to opset {loadRaise.To}", settings);
        }
        else
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.ValidationDisabled,
                "Validation is off: the compressed model was not compared with the original in ONNX Runtime. " +
                "Turn it on (OnnxValidate=true, or drop --no-validate) to see how far its outputs moved."));
        }

        string calibrationFolder = settings.Get(EvaluationSettings.CalibrationData);
        var context = new PassContext(model, settings, inputPath)
        {
            OpsetRaisedAtLoad = loadRaise,
            CalibrationSource = () => calibrationFolder.Length > 0
                ? SampleSet.Load(calibrationFolder, ModelInterface.Inputs(proto), inputPath, EvaluationSettings.CalibrationData)
                : null,
        };
        PipelineResult pipeline = CompressionPipeline.Run(context);
        warnings.InsertRange(0, pipeline.Warnings);
        OpsetChange? opset = (loadRaise, pipeline.Opset) switch
        {
            (null, var passes) => passes,
            (var load, null) => load,
            (var load, var passes) => new OpsetChange(load.From, passes.To, load.ConvertedNodes + passes.ConvertedNodes),
        };

        ModelProto compressedModel = model.ToProto();
        LoadRemainingExternalData(compressedModel, inputPath);
        byte[] compressed = Serialize(compressedModel, inputPath);
        ValidationResult? validation = null;
        if (evaluator is not null)
        {
            validation = evaluator.Score(compressed, pipeline.SessionConfig);
            validation = validation with { Gates = Evaluator.CheckGates(validation, settings, inputPath) };
            ApplyGates(validation, settings, inputPath, warnings);
        }

        var signature = new ModelSignature(
            sourceName,
            description,
            pipeline.Techniques,
            originalBytes,
            compressed.Length,
            pipeline.SessionConfig,
            inputs,
            outputs);
        var report = new CompressionReport(
            sourceName,
            Path.GetFileName(outputPath),
            $"onnx-compress {Version}",
            settings.Report(),
            new SizeReport(originalBytes, compressed.Length),
            opset,
            pipeline.Passes,
            pipeline.SessionConfig,
            validation,
            pipeline.Notes,
            warnings.Select(w => $"{w.Code}: {w.Message}").ToList());

        var files = new List<OutputFile>
        {
            new(outputPath, "the compressed model", compressed),
            new(signaturePath, "the model signature", Encoding.UTF8.GetBytes(signature.ToText())),
        };
        if (request.ReportPath is not null)
        {
            files.Add(new(Path.GetFullPath(request.ReportPath), "the compression report", Encoding.UTF8.GetBytes(report.ToJson())));
        }

        if (request.DependencyPath is not null)
        {
            files.Add(new(Path.GetFullPath(request.DependencyPath), "the list of files the compression read",
                Encoding.UTF8.GetBytes(Dependencies(inputPath, externalFiles, settings))));
        }

        OutputFiles.WriteAll(files, inputPath);

        return new CompressionOutcome(report, signature, warnings);
    }

    /// <summary>
    /// The files and folders a compression read, one per line (<c>file</c> or <c>folder</c>, a TAB, the full path), in a
    /// stable order: the build recompresses a model when one of them changes.
    /// </summary>
    private static string Dependencies(string inputPath, IReadOnlyList<string> externalFiles, ResolvedSettings settings)
    {
        var lines = new List<string> { "file\t" + inputPath };
        lines.AddRange(externalFiles.Select(f => "file\t" + f));
        // Every file or folder a setting names (the overrides file, the sample folders) is read by the compression.
        foreach (PathSetting setting in SettingsCatalog.All.OfType<PathSetting>())
        {
            string path = settings.Get(setting);
            if (path.Length > 0)
            {
                lines.Add((setting.IsFolder ? "folder\t" : "file\t") + path);
            }
        }

        return string.Join("\n", lines) + "\n";
    }

    private static void CheckGatesNeedValidation(ResolvedSettings settings, bool validate, string modelPath)
    {
        if (validate)
        {
            return;
        }

        foreach (NumberSetting gate in EvaluationSettings.Gates)
        {
            if (!double.IsNaN(settings.Get(gate)))
            {
                throw new CompressionException(DiagnosticCodes.InvalidSetting, modelPath,
                    $"{gate.Name}={gate.Format(settings.Get(gate))} ({settings.OriginOf(gate)}) is a gate on validation, but validation is off " +
                    $"(Validate=false, {settings.OriginOf(EvaluationSettings.Validate)}). Turn validation on, or leave the gate unset.");
            }
        }
    }

    private static void ApplyGates(ValidationResult validation, ResolvedSettings settings, string modelPath, List<CompressionWarning> warnings)
    {
        GateCheck[] missed = validation.Gates.Where(g => !g.Passed).ToArray();
        if (missed.Length == 0)
        {
            return;
        }

        string figures = string.Join("; ", missed.Select(g => g.Gate switch
        {
            "MaxAccuracyDrop" => string.Create(CultureInfo.InvariantCulture,
                $"accuracy dropped {g.Measured:0.###} points ({validation.Accuracy!.Original:0.###}% -> {validation.Accuracy.Compressed:0.###}% on {validation.Accuracy.Samples} samples), more than MaxAccuracyDrop={g.Limit:0.###} ({settings.OriginOf(EvaluationSettings.MaxAccuracyDrop)})"),
            "MinCosineSimilarity" => string.Create(CultureInfo.InvariantCulture,
                $"the lowest output cosine similarity is {g.Measured:0.000000}, below MinCosineSimilarity={g.Limit:R} ({settings.OriginOf(EvaluationSettings.MinCosineSimilarity)})"),
            _ => string.Create(CultureInfo.InvariantCulture,
                $"the largest output error is {g.Measured:G6}, above MaxOutputError={g.Limit:R} ({settings.OriginOf(EvaluationSettings.MaxOutputError)})"),
        }));
        if (settings.Get(EvaluationSettings.CompressionGate) == EvaluationSettings.GateWarn)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.GateMissedWarning,
                $"The compressed model misses its gate: {figures}. It was written anyway because CompressionGate=warn."));
            return;
        }

        throw new CompressionException(DiagnosticCodes.GateMissed, modelPath,
            $"The compressed model misses its gate: {figures}. Nothing was written. Compress less (Quantize=none for sensitive nodes in an " +
            "overrides file), loosen the gate, or set CompressionGate=warn to write it anyway.");
    }

    /// <summary>Reads the external data of every tensor still kept in files into the model: its output is one file.</summary>
    private static void LoadRemainingExternalData(ModelProto model, string inputPath)
    {
        try
        {
            OnnxModelFile.LoadExternalData(model, Path.GetDirectoryName(inputPath)!);
        }
        catch (OnnxFormatException e)
        {
            throw new CompressionException(DiagnosticCodes.InvalidModel, inputPath,
                $"'{inputPath}' is not a readable ONNX model: {e.Message} Expected an ONNX ModelProto file, as exporters write it.", e);
        }
    }

    private static (ModelProto Model, long Bytes, IReadOnlyList<string> ExternalFiles) LoadModel(string inputPath)
    {
        if (!File.Exists(inputPath))
        {
            throw new CompressionException(DiagnosticCodes.ModelNotFound, inputPath,
                $"The model file '{inputPath}' does not exist. Check the path of the OnnxModel item or of the input argument.");
        }

        try
        {
            ModelProto model = OnnxModelFile.Load(inputPath, loadExternalData: false);
            ModelChecker.Check(model, inputPath);
            string directory = Path.GetDirectoryName(inputPath)!;
            long bytes = new FileInfo(inputPath).Length;
            var externalFiles = new SortedSet<string>(StringComparer.Ordinal);
            foreach (TensorProto tensor in ModelTensors.Enumerate(model))
            {
                if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
                {
                    externalFiles.Add(ExternalDataReference.FromTensor(tensor).ResolvePath(directory));
                }
            }

            foreach (string file in externalFiles)
            {
                if (!File.Exists(file))
                {
                    throw new OnnxFormatException($"Its external data file '{file}' does not exist; copy the model together with the data files beside it.", file);
                }

                bytes += new FileInfo(file).Length;
            }

            if (model.Graph is null)
            {
                throw new OnnxFormatException("The file parses as protobuf but holds no graph, so it is not an ONNX model.", inputPath);
            }

            return (model, bytes, [.. externalFiles]);
        }
        catch (OnnxFormatException e)
        {
            throw new CompressionException(DiagnosticCodes.InvalidModel, inputPath,
                $"'{inputPath}' is not a readable ONNX model: {e.Message} Expected an ONNX ModelProto file, as exporters write it.", e);
        }
        catch (IOException e)
        {
            throw new CompressionException(DiagnosticCodes.InvalidModel, inputPath, $"'{inputPath}' could not be read: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CompressionException(DiagnosticCodes.InvalidModel, inputPath, $"'{inputPath}' could not be read: {e.Message}", e);
        }
    }

    /// <summary>Raises a model older than ONNX Runtime runs to <see cref="Evaluator.OldestRunnableOpset"/>; null when it
    /// is new enough, imports no default opset, or the raise is refused (the model is then unchanged).</summary>
    private static OpsetChange? RaiseToRunnableOpset(Model model, string inputPath)
    {
        if ((model.Opset ?? long.MaxValue) >= Evaluator.OldestRunnableOpset)
        {
            return null;
        }

        try
        {
            return OpsetUpgradePass.Raise(model, Evaluator.OldestRunnableOpset, inputPath);
        }
        catch (CompressionException e) when (e.Code == DiagnosticCodes.OpsetUpgradeBlocked)
        {
            return null;
        }
    }

    /// <summary>The raised original, with its external data read in: the reference validation runs in its place.</summary>
    private static byte[] RaisedReference(ModelProto model, string inputPath)
    {
        ModelProto raised = model.Clone();
        LoadRemainingExternalData(raised, inputPath);
        return Serialize(raised, inputPath);
    }

    private static byte[] Serialize(ModelProto model, string inputPath)
    {
        try
        {
            return OnnxModelFile.ToBytes(model);
        }
        catch (OnnxFormatException e)
        {
            throw new CompressionException(DiagnosticCodes.ModelTooLarge, inputPath,
                $"The compressed model cannot be written as one file: {e.Message}", e);
        }
    }
}
