using System.Globalization;
using System.Text;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Core.Passes;
using Compression.Core.Passes.Quantization;
using Compression.Core.Reporting;
using Compression.Core.Runtime;
using Compression.Core.Runtime.Isolation;
using Compression.Core.Search;
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

    /// <summary>Where the budget search's choice goes as an overrides file (<c>Compress=auto</c>), to pin it; none by default.</summary>
    public string? SearchOverridesPath { get; init; }

    /// <summary>The compression cache folder: a compression already stored there under the same key (model, settings, the
    /// files they name, compressor) is restored instead of compressed and validated, and a new one is stored; none when null.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The largest compressed model written as one file; protobuf's limit, lowered only by tests so that a small
    /// model takes the path of one over 2 GiB.</summary>
    internal long SingleFileLimit { get; init; } = int.MaxValue;
}

/// <summary>What a compression produced.</summary>
/// <param name="Report">Everything it did, as written to the report file.</param>
/// <param name="Signature">The signature, as written beside the model.</param>
/// <param name="Warnings">Warnings to show the user.</param>
public sealed record CompressionOutcome(CompressionReport Report, ModelSignature Signature, IReadOnlyList<CompressionWarning> Warnings)
{
    /// <summary>True when the outputs were restored from the compression cache, without compressing or validating.</summary>
    public bool FromCache { get; init; }
}

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
    /// <param name="request">The model, its settings and where the results go.</param>
    /// <param name="cancellationToken">Stops the compression; ONNX Runtime's worker process is killed at once.</param>
    /// <exception cref="CompressionException">Anything a user can fix, with its code.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; nothing was written.</exception>
    public static CompressionOutcome Compress(CompressionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return CompressModel(request, cancellationToken);
        }
        catch (Exception e) when (e is not CompressionException and not OperationCanceledException)
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

    /// <summary>
    /// Writes only the signature of the model <paramref name="request"/> names, from the original's inputs and outputs,
    /// without compressing or validating it: what an IDE's design-time build needs for the generated class before the
    /// first real build. Only the interface is read (<see cref="OnnxModelFile.LoadInterface"/>: the nodes and weights are
    /// skipped, so a large model costs little); a model that is malformed elsewhere is found by the real build. Nothing
    /// else is written.
    /// </summary>
    /// <exception cref="CompressionException">The model is missing or invalid, or the signature could not be written.</exception>
    public static ModelSignature WriteInterface(CompressionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string inputPath = Path.GetFullPath(request.InputPath);
        string signaturePath = Path.GetFullPath(request.SignaturePath ?? request.OutputPath + ModelSignature.FileSuffix);
        (ModelProto proto, long originalBytes) = LoadInterface(inputPath);
        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = ModelSignature.ReadInterface(proto);
        var signature = new ModelSignature(
            request.SourceName ?? request.InputPath,
            ModelSignature.FirstParagraph(proto.DocString),
            ["not compressed yet (the interface of the original, for a design-time build)"],
            originalBytes,
            originalBytes,
            new Dictionary<string, string>(),
            inputs,
            outputs)
        {
            OptionalInputs = ModelSignature.ReadOptionalInputs(proto),
        };
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(signaturePath)!);
            byte[] text = Encoding.UTF8.GetBytes(signature.ToText());
            AtomicFile.Write(signaturePath, "the model signature", stream => stream.Write(text));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, inputPath,
                $"Could not write the model signature to '{signaturePath}': {e.Message} Check that the folder is writable.", e);
        }

        return signature;
    }

    /// <summary>
    /// An output written over the model or one of its external data files would destroy the original (and, written first,
    /// leave the rest reading a half-replaced model): refused before anything is written.
    /// </summary>
    private static void RefuseOutputsOverInputs(CompressionRequest request, string inputPath, IReadOnlyList<string> externalFiles, string outputPath, string signaturePath)
    {
        StringComparison comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var outputs = new List<(string Path, string What)>
        {
            (outputPath, "the compressed model (--output)"),
            (outputPath + ExternalDataSuffix, "the compressed model's external data file"),
            (signaturePath, "the signature (--signature)"),
        };
        if (request.ReportPath is not null)
        {
            outputs.Add((Path.GetFullPath(request.ReportPath), "the report (--report)"));
        }

        if (request.DependencyPath is not null)
        {
            outputs.Add((Path.GetFullPath(request.DependencyPath), "the dependency file (--dependency-file)"));
        }

        foreach (string input in externalFiles.Select(Path.GetFullPath).Prepend(inputPath))
        {
            if (outputs.FirstOrDefault(o => string.Equals(o.Path, input, comparison)) is { Path: not null } clash)
            {
                throw new CompressionException(DiagnosticCodes.OutputNotWritten, inputPath,
                    $"The path of {clash.What}, '{clash.Path}', is {(input == inputPath ? "the model itself" : "one of the model's external data files")}: writing it would destroy the original. Write the outputs to another path.");
            }
        }
    }

    private static CompressionOutcome CompressModel(CompressionRequest request, CancellationToken cancellationToken)
    {
        string inputPath = Path.GetFullPath(request.InputPath);
        string outputPath = Path.GetFullPath(request.OutputPath);
        string signaturePath = Path.GetFullPath(request.SignaturePath ?? request.OutputPath + ModelSignature.FileSuffix);
        string sourceName = request.SourceName ?? request.InputPath;
        var warnings = new List<CompressionWarning>();
        var timing = new PhaseClock();

        (ModelProto proto, long originalBytes, IReadOnlyList<string> externalFiles) = LoadModel(inputPath);
        RefuseOutputsOverInputs(request, inputPath, externalFiles, outputPath, signaturePath);
        ResolvedSettings settings = SettingsResolver.Resolve(request.Settings, inputPath);
        bool validate = settings.Get(EvaluationSettings.Validate);
        CheckGatesNeedValidation(settings, validate, inputPath);
        bool search = settings.Get(SearchSettings.Compress) == SearchSettings.Auto;
        if (search && !validate)
        {
            throw new CompressionException(DiagnosticCodes.SearchNotPossible, inputPath,
                $"Compress=auto ({settings.OriginOf(SearchSettings.Compress)}) searches for the smallest model that passes validation, but validation is off " +
                $"(Validate=false, {settings.OriginOf(EvaluationSettings.Validate)}). Turn validation on, or set Compress=manual and choose the settings yourself.");
        }

        // The cache is looked up before ONNX Runtime is touched: a hit needs neither it nor the passes. Its own warnings
        // are shown but kept out of the report, which must be the same bytes whether the outputs came from the cache or not.
        var cacheWarnings = new List<CompressionWarning>();
        CompressionCache? cache = string.IsNullOrEmpty(request.CacheDirectory)
            ? null
            : CompressionCache.Open(request.CacheDirectory, inputPath, externalFiles, settings, sourceName, outputPath, cacheWarnings);
        int cacheWarningsBefore = cacheWarnings.Count;
        if (cache?.Read(outputPath) is { } cached)
        {
            using (cached)
            {
                return Restore(request, cached, inputPath, outputPath, signaturePath, externalFiles, settings);
            }
        }

        // A run compressing the same key (the project's other target framework, built in parallel) is waited for, and what
        // it stored restored; the turn is held until this run's entry is in place. An entry just found damaged or unreadable
        // is not read again.
        using IDisposable? turn = cache?.WaitForTurn(cancellationToken);
        if (turn is not null && cacheWarnings.Count == cacheWarningsBefore && cache!.Read(outputPath) is { } stored)
        {
            using (stored)
            {
                return Restore(request, stored, inputPath, outputPath, signaturePath, externalFiles, settings);
            }
        }

        // The original's deployed (zipped) size, measured beside the compression: deflating a large model takes seconds.
        Task<long> zippedOriginal = Task.Run(() => DeployedSize.OfFiles(externalFiles.Prepend(inputPath)), cancellationToken);

        // Every ONNX Runtime session on the user's model (validation, calibration) runs in a worker process with a time
        // limit, so that a model that crashes or hangs ONNX Runtime fails this compression with a code instead of the
        // compressor; without a worker beside Compression.Core.dll the sessions run in process.
        // A search runs ONNX Runtime for as long as SearchTimeLimit allows, on top of the validation's own time.
        using ModelRunner runner = OnnxWorker.Create(
            TimeSpan.FromSeconds(settings.Get(EvaluationSettings.ValidationTimeout) + (search ? settings.Get(SearchSettings.SearchTimeLimit) : 0)),
            $"ValidationTimeout={settings.Get(EvaluationSettings.ValidationTimeout).ToString(CultureInfo.InvariantCulture)} s ({settings.OriginOf(EvaluationSettings.ValidationTimeout)})" +
            (search ? $" plus SearchTimeLimit={settings.Get(SearchSettings.SearchTimeLimit).ToString(CultureInfo.InvariantCulture)} s ({settings.OriginOf(SearchSettings.SearchTimeLimit)})" : string.Empty),
            inputPath,
            cancellationToken);
        if (validate)
        {
            runner.Prepare();
        }

        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = ModelSignature.ReadInterface(proto);
        string? description = ModelSignature.FirstParagraph(proto.DocString);
        Model model = Model.FromProto(proto, inputPath);
        settings.Overrides?.CheckNodesExist(model, inputPath);

        // ONNX Runtime runs no model older than opset 7 (Gemm-6 and other operators of older opsets have no kernel), so such a
        // model is raised to 7 as it is read: the output then runs wherever the compressor's output is used, even when
        // nothing is quantized, and validation compares it with the raised original, unquantized, which ONNX Runtime runs.
        // Where the raise is refused, the model stays as it is and validation reports what ONNX Runtime says of it.
        OpsetChange? loadRaise = RaiseToRunnableOpset(model, inputPath);
        timing.End("read");

        // The original runs once, before the passes change the model: every candidate is judged against its outputs.
        Evaluator? evaluator = null;
        if (validate)
        {
            byte[]? reference = loadRaise is null ? null : RaisedReference(model.ToProto(), inputPath);
            evaluator = Evaluator.Open(inputPath, reference, loadRaise is null ? Evaluator.OriginalReference : $"original raised to opset {loadRaise.To}", settings, runner);
            timing.End("reference");
        }
        else
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.ValidationDisabled,
                "Validation is off: the compressed model was not compared with the original in ONNX Runtime. " +
                "Turn it on (OnnxValidate=true, or drop --no-validate) to see how far its outputs moved."));
        }

        string calibrationFolder = settings.Get(EvaluationSettings.CalibrationData);
        Func<SampleSet?> calibration = () => calibrationFolder.Length > 0
            ? SampleSet.Load(calibrationFolder, ModelInterface.Inputs(proto), inputPath, EvaluationSettings.CalibrationData)
            : null;

        // Compress=auto: the search chooses each layer's settings, which the compression below then applies as an overrides file would.
        SearchReport? searchReport = null;
        if (search)
        {
            SampleSet? calibrationSamples = null;
            bool calibrationRead = false;
            Func<SampleSet?> calibrationOnce = () =>
            {
                calibrationSamples = calibrationRead ? calibrationSamples : calibration();
                calibrationRead = true;
                return calibrationSamples;
            };
            SearchOutcome outcome = BudgetSearch.Run(
                new SearchInputs(SearchModel(model, inputPath, externalFiles.Count > 0), inputPath, externalFiles, settings, evaluator!, runner, calibrationOnce)
                {
                    OpsetRaisedAtLoad = loadRaise,
                    CacheDirectory = request.CacheDirectory,
                },
                cacheWarnings,
                cancellationToken);
            settings = outcome.Settings;
            searchReport = outcome.Report;
            warnings.AddRange(outcome.Warnings);
            calibration = calibrationOnce;
            timing.End("search");
        }

        var context = new PassContext(model, settings, inputPath)
        {
            Runner = runner,
            OpsetRaisedAtLoad = loadRaise,
            CalibrationSource = calibration,
        };
        // An original with external data gives a compressed model with external data (a model over 2 GiB has it): its
        // weights go to a data file named after the output, in a staging folder beside it, as the passes make them and
        // then the rest tensor by tensor, and ONNX Runtime reads the staged files itself; nothing holds the whole model.
        long threshold = settings.Get(SettingsCatalog.ExternalDataThreshold);
        using ExternalDataStage? stage = externalFiles.Count > 0 ? ExternalDataStage.Open(outputPath, inputPath) : null;
        model.DataFile = stage?.Writer;
        model.DataFileThreshold = threshold;
        PipelineResult pipeline = CompressionPipeline.Run(context);
        warnings.InsertRange(0, pipeline.Warnings);
        OpsetChange? opset = (loadRaise, pipeline.Opset) switch
        {
            (null, var passes) => passes,
            (var load, null) => load,
            (var load, var passes) => new OpsetChange(load.From, passes.To, load.ConvertedNodes + passes.ConvertedNodes),
        };

        ModelProto compressedModel = model.ToProto();
        using ExternalDataStage? lateStage = stage is null && ExceedsLimit(compressedModel, request.SingleFileLimit) ? ExternalDataStage.Open(outputPath, inputPath) : null;
        ExternalDataStage? staged = stage ?? lateStage;
        byte[] compressed;
        long compressedBytes;
        if (staged is null)
        {
            compressed = Serialize(compressedModel, inputPath, request.SingleFileLimit, settings);
            compressedBytes = compressed.Length;
        }
        else
        {
            long dataBytes = staged.Finish(compressedModel, threshold);
            compressed = Serialize(compressedModel, inputPath, request.SingleFileLimit, settings);
            compressedBytes = compressed.Length + dataBytes;
            staged.WriteModel(compressed);
        }

        timing.End("compress");
        ValidationResult? validation = null;
        if (evaluator is not null)
        {
            validation = staged is null
                ? evaluator.Score(compressed, pipeline.SessionConfig)
                : evaluator.Score(staged.ModelPath, pipeline.SessionConfig);
            validation = validation with { Gates = Evaluator.CheckGates(validation, settings, inputPath) };
            ApplyGates(validation, settings, inputPath, warnings);
            timing.End("validate");
        }

        // ONNX Runtime is done with the model: the worker ends before anything is written.
        runner.Dispose();
        cancellationToken.ThrowIfCancellationRequested();

        var signature = new ModelSignature(
            sourceName,
            description,
            pipeline.Techniques,
            originalBytes,
            compressedBytes,
            pipeline.SessionConfig,
            inputs,
            outputs)
        {
            // From the compressed model: a quantized weight is no longer an input the caller may set.
            OptionalInputs = ModelSignature.ReadOptionalInputs(compressedModel),
        };
        var report = new CompressionReport(
            sourceName,
            Path.GetFileName(outputPath),
            $"onnx-compress {Version}",
            settings.Report(),
            new SizeReport(originalBytes, compressedBytes)
            {
                // Deployed sizes: the files deflated as a zip stores them, from the bytes already read and written.
                ZippedOriginal = zippedOriginal.GetAwaiter().GetResult(),
                ZippedCompressed = DeployedSize.Of(compressed) + (staged is null ? 0 : DeployedSize.OfFiles([staged.DataPath])),
            },
            opset,
            pipeline.Passes,
            pipeline.SessionConfig,
            validation,
            staged is null ? pipeline.Notes : [.. pipeline.Notes, ExternalDataNote(outputPath, externalFiles.Count > 0)],
            warnings.Select(w => $"{w.Code}: {w.Message}").ToList())
        {
            Timing = timing.Report(),
            Search = searchReport,
        };

        var files = new List<OutputFile>
        {
            new(outputPath, "the compressed model", compressed),
            new(signaturePath, "the model signature", Encoding.UTF8.GetBytes(signature.ToText())),
        };
        // After the signature, which OutputFiles.WriteAll writes last; a data file an earlier compression of this model wrote
        // and this one does not use is removed with the set, so that the build never copies it beside the new model.
        files.Add(staged is not null
            ? OutputFile.Staged(outputPath + ExternalDataSuffix, "the compressed model's external data", staged.DataPath)
            : OutputFile.Removed(outputPath + ExternalDataSuffix, "the earlier compression's external data"));

        byte[] reportJson = Encoding.UTF8.GetBytes(report.ToJson());
        AddReportAndDependencies(files, request, reportJson, inputPath, externalFiles, settings);
        AddSearchOverrides(files, request, searchReport);

        // The entry is made before the outputs are written (the staged data file is still ours to read) and put in place
        // after: an entry exists only for a compression whose outputs were written.
        using CompressionCache.PendingEntry? pending = cache?.Prepare(compressed, files[1].Content, reportJson, staged?.DataPath);
        OutputFiles.WriteAll(files, inputPath);
        pending?.Commit();

        return new CompressionOutcome(report, signature, [.. warnings, .. cacheWarnings]);
    }

    /// <summary>Writes a compression read from the cache as a compression writes its outputs (the same files, the same
    /// all-or-nothing write, the signature last), with the dependency list made for these paths.</summary>
    private static CompressionOutcome Restore(CompressionRequest request, CachedCompression cached, string inputPath, string outputPath, string signaturePath,
        IReadOnlyList<string> externalFiles, ResolvedSettings settings)
    {
        var files = new List<OutputFile>
        {
            new(outputPath, "the compressed model", cached.Model),
            new(signaturePath, "the model signature", cached.SignatureText),
        };
        files.Add(cached.DataPath is not null
            ? OutputFile.Staged(outputPath + ExternalDataSuffix, "the compressed model's external data", cached.DataPath)
            : OutputFile.Removed(outputPath + ExternalDataSuffix, "the earlier compression's external data"));
        AddReportAndDependencies(files, request, cached.ReportJson, inputPath, externalFiles, settings);
        AddSearchOverrides(files, request, cached.Report.Search);
        OutputFiles.WriteAll(files, inputPath);

        // The warnings of the compression that made the entry are the report's, as CODE: message.
        var warnings = cached.Report.Warnings
            .Select(w => w.IndexOf(": ", StringComparison.Ordinal) is var colon and > 0
                ? new CompressionWarning(w[..colon], w[(colon + 2)..])
                : new CompressionWarning(string.Empty, w))
            .ToList();
        return new CompressionOutcome(cached.Report, cached.Signature, warnings) { FromCache = true };
    }

    /// <summary>The search's choice as an overrides file, where the request asks for it; an earlier search's file is removed when no search ran.</summary>
    private static void AddSearchOverrides(List<OutputFile> files, CompressionRequest request, SearchReport? search)
    {
        if (request.SearchOverridesPath is not { } path)
        {
            return;
        }

        files.Add(search is null
            ? OutputFile.Removed(Path.GetFullPath(path), "the earlier search's overrides file")
            : new OutputFile(Path.GetFullPath(path), "the budget search's choice as an overrides file", Encoding.UTF8.GetBytes(search.Overrides)));
    }

    /// <summary>
    /// The original as the search's trials start from it: a copy of the model as read, with the weights of its external data
    /// read in, since ONNX Runtime runs each trial from bytes.
    /// </summary>
    /// <exception cref="CompressionException">The model is too large to search (OCB0011).</exception>
    private static ModelProto SearchModel(Model model, string inputPath, bool externalData)
    {
        ModelProto copy = model.ToProto().Clone();
        if (externalData)
        {
            LoadRemainingExternalData(copy, inputPath);
        }

        if (ExceedsLimit(copy, int.MaxValue))
        {
            throw new CompressionException(DiagnosticCodes.SearchNotPossible, inputPath,
                "Compress=auto runs each trial of the search in ONNX Runtime from one serialized model, which protobuf limits to 2 GiB, and this model is larger. " +
                "Set Compress=manual and choose the settings yourself (an overrides file sets them per layer).");
        }

        return copy;
    }

    private static void AddReportAndDependencies(List<OutputFile> files, CompressionRequest request, byte[] reportJson, string inputPath,
        IReadOnlyList<string> externalFiles, ResolvedSettings settings)
    {
        if (request.ReportPath is not null)
        {
            files.Add(new(Path.GetFullPath(request.ReportPath), "the compression report", reportJson));
        }

        if (request.DependencyPath is not null)
        {
            files.Add(new(Path.GetFullPath(request.DependencyPath), "the list of files the compression read",
                Encoding.UTF8.GetBytes(Dependencies(inputPath, externalFiles, settings))));
        }
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
            "MinTop1Agreement" => string.Create(CultureInfo.InvariantCulture,
                $"the lowest top-1 agreement with the original is {g.Measured:0.###}%, below MinTop1Agreement={g.Limit:R} ({settings.OriginOf(EvaluationSettings.MinTop1Agreement)})"),
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

    /// <summary>What the compressed model's external data file adds to its name: <c>model.onnx</c> keeps its weights in
    /// <c>model.onnx.data</c> beside it.</summary>
    public const string ExternalDataSuffix = ".data";

    private static string ExternalDataNote(string outputPath, bool originalHadExternalData) =>
        $"The weights are in '{Path.GetFileName(outputPath)}{ExternalDataSuffix}' beside the model " +
        (originalHadExternalData ? "(the original kept external data)" : "(as one file the model would exceed protobuf's 2 GiB limit)") +
        ": copy both files together; ONNX Runtime reads the data file when it loads the model from its path.";

    /// <summary>Whether the model would be larger than <paramref name="limit"/> bytes serialized (tensors in external data
    /// count only their references).</summary>
    private static bool ExceedsLimit(ModelProto model, long limit)
    {
        long bytes = 0;
        foreach (TensorProto tensor in ModelTensors.Enumerate(model))
        {
            int size = tensor.CalculateSize();
            bytes += size < 0 ? limit + 1 : size;
            if (bytes > limit)
            {
                return true;
            }
        }

        int total = model.CalculateSize();
        return total < 0 || total > limit;
    }

    /// <summary>Reads the external data of every tensor still kept in files into the model.</summary>
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
                if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
                {
                    continue;
                }

                // The location is checked (inside the model's folder, links included; a regular file; the bytes within
                // it) before ONNX Runtime, which validation runs on the original, reads the file itself.
                ExternalDataReference reference = ExternalDataReference.FromTensor(tensor);
                string file = reference.ResolvePath(directory, tensor.Name, inputPath);
                if (!File.Exists(file))
                {
                    throw new OnnxFormatException(
                        $"Tensor '{tensor.Name}' keeps its data in the external file '{reference.Location}' ('{file}'), which does not exist; " +
                        "copy the model together with the data files beside it.", file);
                }

                reference.CheckRange(new FileInfo(file).Length, file, tensor.Name, inputPath);
                if (externalFiles.Add(file))
                {
                    bytes += new FileInfo(file).Length;
                }
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

    private static (ModelProto Model, long Bytes) LoadInterface(string inputPath)
    {
        if (!File.Exists(inputPath))
        {
            throw new CompressionException(DiagnosticCodes.ModelNotFound, inputPath,
                $"The model file '{inputPath}' does not exist. Check the path of the OnnxModel item or of the input argument.");
        }

        try
        {
            return (OnnxModelFile.LoadInterface(inputPath), new FileInfo(inputPath).Length);
        }
        catch (OnnxFormatException e)
        {
            throw new CompressionException(DiagnosticCodes.InvalidModel, inputPath,
                $"'{inputPath}' is not a readable ONNX model: {e.Message} Expected an ONNX ModelProto file, as exporters write it.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
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

    /// <summary>The compressed model's <c>.onnx</c> file, which must stay under <paramref name="limit"/> bytes even when its
    /// large tensors are in the data file.</summary>
    private static byte[] Serialize(ModelProto model, string inputPath, long limit, ResolvedSettings settings)
    {
        if (!ExceedsLimit(model, limit))
        {
            return Serialize(model, inputPath);
        }

        throw new CompressionException(DiagnosticCodes.ModelTooLarge, inputPath,
            $"The compressed model's .onnx file would exceed protobuf's 2 GiB limit even with its tensors of " +
            $"{settings.Get(SettingsCatalog.ExternalDataThreshold)} bytes or more in its external data file " +
            $"(ExternalDataThreshold, {settings.OriginOf(SettingsCatalog.ExternalDataThreshold)}): its small tensors, or tensors held " +
            "in typed fields rather than raw_data, add up to too much. Lower ExternalDataThreshold (the default is 1024), or export " +
            "the original with its weights as raw data.");
    }

    /// <summary>
    /// The compressed model and its external data file in a staging folder beside the output, before they are validated
    /// and moved into place; disposing it removes whatever is left.
    /// </summary>
    private sealed class ExternalDataStage : IDisposable
    {
        private readonly StagingFolder folder;
        private readonly FileStream data;
        private readonly string inputPath;

        private ExternalDataStage(StagingFolder folder, FileStream data, string outputName, string inputPath)
        {
            this.folder = folder;
            this.data = data;
            this.inputPath = inputPath;
            DataPath = data.Name;
            ModelPath = folder.File(outputName);
            Writer = new ExternalDataWriter(data, outputName + ExternalDataSuffix);
        }

        /// <summary>Where the compressed model is staged.</summary>
        public string ModelPath { get; }

        /// <summary>Where its external data is staged.</summary>
        public string DataPath { get; }

        /// <summary>Writes the data file.</summary>
        public ExternalDataWriter Writer { get; }

        /// <exception cref="CompressionException">The staging folder or data file cannot be created (OCB0004).</exception>
        public static ExternalDataStage Open(string outputPath, string inputPath)
        {
            string outputName = Path.GetFileName(outputPath);
            StagingFolder folder = StagingFolder.Create(outputPath, inputPath);
            try
            {
                var data = new FileStream(folder.File(outputName + ExternalDataSuffix), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1 << 20);
                return new ExternalDataStage(folder, data, outputName, inputPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                folder.Dispose();
                throw NotWritten(folder.Path, inputPath, e);
            }
        }

        /// <summary>Writes the tensors the passes left in the model, closes the data file and returns its length.</summary>
        /// <exception cref="CompressionException">The original's external data cannot be read (OCB0002) or the file written (OCB0004).</exception>
        public long Finish(ModelProto model, long threshold)
        {
            try
            {
                long bytes = Writer.AppendRest(model, threshold, Path.GetDirectoryName(inputPath), inputPath);
                data.Flush(flushToDisk: true);
                data.Dispose();
                return bytes;
            }
            catch (OnnxFormatException e)
            {
                throw new CompressionException(DiagnosticCodes.InvalidModel, inputPath,
                    $"'{inputPath}' is not a readable ONNX model: {e.Message} Expected an ONNX ModelProto file, as exporters write it.", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw NotWritten(DataPath, inputPath, e);
            }
        }

        /// <summary>Stages the compressed model's <c>.onnx</c> file beside its data, where ONNX Runtime validates it.</summary>
        /// <exception cref="CompressionException">The file cannot be written (OCB0004).</exception>
        public void WriteModel(byte[] model)
        {
            try
            {
                File.WriteAllBytes(ModelPath, model);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw NotWritten(ModelPath, inputPath, e);
            }
        }

        public void Dispose()
        {
            data.Dispose();
            folder.Dispose();
        }

        private static CompressionException NotWritten(string path, string inputPath, Exception e) =>
            new(DiagnosticCodes.OutputNotWritten, inputPath,
                $"Could not write the compressed model and its external data to '{path}': {e.Message} Check that the output folder is writable " +
                "and has room for the data file. Nothing was written.", e);
    }
}
