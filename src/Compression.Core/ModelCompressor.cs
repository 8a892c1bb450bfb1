using System.Globalization;
using System.Text;
using Compression.Core.Opsets;
using Compression.Core.Passes.Quantization;
using Compression.Core.Reporting;
using Compression.Core.Signature;
using Compression.Core.Validation;
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

    /// <summary>How the original model is named in the signature and report (the project-relative path in a
    /// build); by default <see cref="InputPath"/> as given.</summary>
    public string? SourceName { get; init; }

    /// <summary>What to do to the model.</summary>
    public CompressionSettings Settings { get; init; } = new();
}

/// <summary>What a compression produced.</summary>
/// <param name="Report">Everything it did, as written to the report file.</param>
/// <param name="Signature">The signature, as written beside the model.</param>
/// <param name="Warnings">Warnings to show the user.</param>
public sealed record CompressionOutcome(CompressionReport Report, ModelSignature Signature, IReadOnlyList<CompressionWarning> Warnings);

/// <summary>
/// Compresses one model: load, apply the techniques the settings ask for, check the result against the original in
/// ONNX Runtime, then write the compressed model, its signature and its report. Every file is written to a temporary
/// file and moved into place, and nothing is written when any step fails.
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
        string inputPath = Path.GetFullPath(request.InputPath);
        string outputPath = Path.GetFullPath(request.OutputPath);
        string signaturePath = Path.GetFullPath(request.SignaturePath ?? request.OutputPath + ModelSignature.FileSuffix);
        string sourceName = request.SourceName ?? request.InputPath;
        CompressionSettings settings = request.Settings;
        var warnings = new List<CompressionWarning>();

        (ModelProto model, long originalBytes) = LoadModel(inputPath);
        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = ModelSignature.ReadInterface(model);
        string? description = ModelSignature.FirstParagraph(model.DocString);

        // ONNX Runtime does not run models older than opset 7: validation then compares with the original raised to
        // the opset the quantizer needs, unquantized, which the quantized model is built from anyway.
        byte[]? reference = settings.Validate && (OpsetVersions.DefaultDomainVersion(model) ?? long.MaxValue) < ModelValidator.OldestRunnableOpset
            ? RaisedReference(model, inputPath)
            : null;

        WeightQuantizationResult quantization = settings.Quantize == WeightQuantization.Int8
            ? WeightQuantizer.Apply(model, settings.WeightThreshold, inputPath)
            : new WeightQuantizationResult([], [], null, new Dictionary<string, string>());
        if (settings.Quantize != WeightQuantization.None && quantization.Quantized.Count == 0)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.NothingCompressed,
                $"Quantize={CompressionSettings.Format(settings.Quantize)} found no MatMul, Gemm or Conv weight to quantize " +
                $"(constant float weights of at least {settings.WeightThreshold} elements); the model is copied unchanged. " +
                "Lower WeightThreshold to include smaller weights."));
        }

        byte[] compressed = Serialize(model, inputPath);
        ValidationResult? validation = null;
        if (settings.Validate)
        {
            validation = reference is null
                ? ModelValidator.Validate(inputPath, compressed, quantization.SessionConfig, settings)
                : ModelValidator.ValidateAgainstReference(inputPath, reference, $"original raised to opset {WeightQuantizer.RequiredOpset}", compressed, quantization.SessionConfig, settings);
        }
        else
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.ValidationDisabled,
                "Validation is off: the compressed model was not compared with the original in ONNX Runtime. " +
                "Turn it on (OnnxValidate=true, or drop --no-validate) to see how far its outputs moved."));
        }

        var signature = new ModelSignature(
            sourceName,
            description,
            DescribeCompression(quantization),
            originalBytes,
            compressed.Length,
            quantization.SessionConfig,
            inputs,
            outputs);
        var report = new CompressionReport(
            sourceName,
            Path.GetFileName(outputPath),
            $"onnx-compress {Version}",
            new SettingsReport(CompressionSettings.Format(settings.Quantize), settings.WeightThreshold, settings.Validate),
            new SizeReport(originalBytes, compressed.Length),
            quantization.Opset,
            quantization.Quantized,
            quantization.Skipped,
            quantization.SessionConfig,
            validation,
            Notes(quantization),
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

        OutputFiles.WriteAll(files, inputPath);

        return new CompressionOutcome(report, signature, warnings);
    }

    private static (ModelProto Model, long Bytes) LoadModel(string inputPath)
    {
        if (!File.Exists(inputPath))
        {
            throw new CompressionException(DiagnosticCodes.ModelNotFound, inputPath,
                $"The model file '{inputPath}' does not exist. Check the path of the OnnxModel item or of the input argument.");
        }

        try
        {
            ModelProto model = OnnxModelFile.Load(inputPath, loadExternalData: false);
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

            OnnxModelFile.LoadExternalData(model, directory);
            foreach (string file in externalFiles)
            {
                bytes += new FileInfo(file).Length;
            }

            if (model.Graph is null)
            {
                throw new OnnxFormatException("The file parses as protobuf but holds no graph, so it is not an ONNX model.", inputPath);
            }

            return (model, bytes);
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

    /// <summary>The model raised to the quantizer's opset, unquantized, or null when the raise is refused (then
    /// validation runs the original and reports why ONNX Runtime cannot).</summary>
    private static byte[]? RaisedReference(ModelProto model, string inputPath)
    {
        ModelProto raised = model.Clone();
        try
        {
            OpsetUpgrade.Apply(raised, WeightQuantizer.RequiredOpset, inputPath);
        }
        catch (CompressionException e) when (e.Code == DiagnosticCodes.OpsetUpgradeBlocked)
        {
            return null;
        }

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

    private static IReadOnlyList<string> DescribeCompression(WeightQuantizationResult quantization)
    {
        if (quantization.Quantized.Count == 0)
        {
            return [];
        }

        long values = quantization.Quantized.Sum(w => w.OriginalBytes / sizeof(float));
        string operators = string.Join("/", quantization.Quantized.SelectMany(w => w.OpTypes).Distinct().Order(StringComparer.Ordinal));
        return
        [
            string.Create(CultureInfo.InvariantCulture,
                $"int8 weights: {quantization.Quantized.Count} {operators} weight {(quantization.Quantized.Count == 1 ? "tensor" : "tensors")} ({values:N0} values), symmetric, one scale per output channel"),
        ];
    }

    private static IReadOnlyList<string> Notes(WeightQuantizationResult quantization)
    {
        if (!quantization.SessionConfig.ContainsKey(WeightQuantizer.DisableQdqConfigKey))
        {
            return [];
        }

        return
        [
            $"Run this model with the ONNX Runtime session option {WeightQuantizer.DisableQdqConfigKey}=1 (the generated class sets it). " +
            "ONNX Runtime then folds the int8 weights back to float when it loads the model and runs it at float speed; " +
            "without it ONNX Runtime keeps the DequantizeLinear nodes and runs the model about 2x slower.",
        ];
    }
}
