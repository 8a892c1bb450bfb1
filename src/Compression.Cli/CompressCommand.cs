using System.CommandLine;
using Compression.Core;
using Compression.Core.Runtime;

namespace Compression.Cli;

/// <summary>The <c>onnx-compress</c> command: arguments in, a compressed model, signature and report out.</summary>
public static class CompressCommand
{
    /// <summary>Exit code: the model was compressed.</summary>
    public const int Success = 0;

    /// <summary>Exit code: compression failed; the error says why and nothing was written.</summary>
    public const int Failed = 1;

    /// <summary>Exit code: the command line was wrong.</summary>
    public const int UsageError = 2;

    /// <summary>Parses <paramref name="args"/>, compresses, and returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to compress." };
        var outputPath = new Option<FileInfo>("--output", "-o") { Description = "Where to write the compressed model.", Required = true };
        var quantize = new Option<string>("--quantize", "-q")
        {
            Description = "Weight quantization: int8 (MatMul/Gemm/Conv weights to int8, symmetric, per output channel) or none.",
            DefaultValueFactory = _ => "int8",
            HelpName = "int8|none",
        };
        var weightThreshold = new Option<string>("--weight-threshold")
        {
            Description = $"Leave weights with fewer elements than this in float.",
            DefaultValueFactory = _ => CompressionSettings.DefaultWeightThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
            HelpName = "elements",
        };
        var report = new Option<FileInfo?>("--report", "-r") { Description = "Write a JSON report of what was done and measured." };
        var signature = new Option<FileInfo?>("--signature") { Description = "Where to write the model signature the source generator reads (default: OUTPUT.signature)." };
        var sourceName = new Option<string?>("--source-name") { Description = "How the signature and report name the original model (default: the model argument)." };
        var noValidate = new Option<bool>("--no-validate") { Description = "Skip running both models in ONNX Runtime; ONNX Runtime is then not needed." };
        var validationData = new Option<DirectoryInfo?>("--validation-data") { Description = "A folder of TensorProto files (*.pb) to validate with, named after the inputs or input_K.pb." };
        var onnxRuntime = new Option<FileInfo?>("--onnxruntime") { Description = $"ONNX Runtime's native library to validate with (default: the compressor's own native asset, else {OnnxRuntimeLibrary.PathVariable}); ONNX Runtime {OnnxRuntimeLibrary.OldestSupportedVersion} or newer." };
        var diagnosticFormat = new Option<DiagnosticFormat>("--diagnostic-format") { Description = "How errors and warnings are written: Text, or MSBuild's canonical form.", DefaultValueFactory = _ => DiagnosticFormat.Text };

        var command = new RootCommand("Compresses an ONNX model and checks the result against the original in ONNX Runtime.")
        {
            model, outputPath, quantize, weightThreshold, report, signature, sourceName, noValidate, validationData, onnxRuntime, diagnosticFormat,
        };

        ParseResult parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"onnx-compress: error: {parsed.Errors[0].Message} Run 'onnx-compress --help' for usage.");
            return UsageError;
        }

        int exitCode = Success;
        command.SetAction(result =>
        {
            FileInfo input = result.GetValue(model)!;
            var console = new ConsoleReporter(output, error, result.GetValue(diagnosticFormat), input.FullName);
            try
            {
                var settings = new CompressionSettings
                {
                    Quantize = CompressionSettings.ParseQuantize(result.GetValue(quantize), input.FullName),
                    WeightThreshold = CompressionSettings.ParseWeightThreshold(result.GetValue(weightThreshold), input.FullName),
                    Validate = !result.GetValue(noValidate),
                    ValidationDataDirectory = result.GetValue(validationData)?.FullName,
                };

                FileInfo? library = result.GetValue(onnxRuntime);
                if (settings.Validate && library is not null)
                {
                    if (!library.Exists)
                    {
                        throw new CompressionException(DiagnosticCodes.OnnxRuntimeNotFound, input.FullName,
                            $"{DiagnosticCodes.OnnxRuntimeNotFound}: the ONNX Runtime library '{library.FullName}' given to validate with does not exist. " +
                            "Point OnnxRuntimeLibraryPath (--onnxruntime) at libonnxruntime, or turn validation off.");
                    }

                    OnnxRuntimeLibrary.UseLibrary(library.FullName);
                }

                var request = new CompressionRequest(input.FullName, result.GetValue(outputPath)!.FullName)
                {
                    SignaturePath = result.GetValue(signature)?.FullName,
                    ReportPath = result.GetValue(report)?.FullName,
                    SourceName = result.GetValue(sourceName) ?? input.ToString(),
                    Settings = settings,
                };

                CompressionOutcome outcome = ModelCompressor.Compress(request);
                console.Summary(request, outcome);
                exitCode = Success;
            }
            catch (CompressionException e)
            {
                console.Error(e.Code, e.Message);
                exitCode = Failed;
            }
        });

        // Help, version and unexpected failures go to the writers this method was given, not to the process's console.
        int invoked = parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
        return invoked != 0 ? invoked : exitCode;
    }
}
