using System.Globalization;
using Compression.Core;
using Compression.Core.Reporting;
using Compression.Core.Evaluation;

namespace Compression.Cli;

/// <summary>Writes what the compressor did and what went wrong, for a person or for MSBuild.</summary>
internal sealed class ConsoleReporter
{
    private readonly TextWriter output;
    private readonly TextWriter error;
    private readonly DiagnosticFormat format;
    private readonly string modelPath;

    public ConsoleReporter(TextWriter output, TextWriter error, DiagnosticFormat format, string modelPath)
    {
        this.output = output;
        this.error = error;
        this.format = format;
        this.modelPath = modelPath;
    }

    public void Error(string code, string message) => Diagnostic("error", code, message);

    public void Summary(CompressionRequest request, CompressionOutcome outcome)
    {
        CompressionReport report = outcome.Report;
        foreach (CompressionWarning warning in outcome.Warnings)
        {
            Diagnostic("warning", warning.Code, warning.Message);
        }

        string techniques = outcome.Signature.Compression.Count == 0 ? "copied without compression" : string.Join("; ", outcome.Signature.Compression);
        string fromCache = outcome.FromCache ? " (from cache)" : string.Empty;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Source}: {report.Size.Original:N0} -> {report.Size.Compressed:N0} bytes ({report.Size.Ratio:0.00}x); {techniques}{fromCache}"));
        if (report.Opset is { } opset)
        {
            // Opset 7 is where ONNX Runtime starts: a model older than that is raised to it as it is read.
            string why = opset.To == Core.Evaluation.Evaluator.OldestRunnableOpset ? "the oldest ONNX Runtime runs" : "for the new operators";
            output.WriteLine($"  opset raised from {opset.From} to {opset.To}, {why}");
        }

        if (report.Validation is { } validation)
        {
            output.WriteLine("  " + DescribeValidation(validation));
        }

        foreach (string note in report.Notes)
        {
            output.WriteLine("  note: " + note);
        }

        if (format == DiagnosticFormat.Text)
        {
            output.WriteLine($"  wrote {request.OutputPath}");
        }
    }

    private static string DescribeValidation(ValidationResult validation)
    {
        bool synthesized = validation.Inputs.All(i => i.Origin == "synthesized");
        string inputs = synthesized ? $"{validation.Samples} synthesized input sets" : $"{validation.Samples} samples from {validation.Source}";
        IEnumerable<string> outputs = validation.Outputs.Select(o => o.CosineSimilarity is { } cosine
            ? string.Create(CultureInfo.InvariantCulture, $"{o.Name} max abs error {o.MaxAbsError:G4}, cosine {cosine:0.000000}")
            : string.Create(CultureInfo.InvariantCulture, $"{o.Name} {o.Mismatches} of {o.Elements} elements differ"));
        string against = validation.Reference == Evaluator.OriginalReference ? string.Empty : $" against the {validation.Reference}";
        string accuracy = validation.Accuracy is { } a
            ? string.Create(CultureInfo.InvariantCulture, $"; accuracy {a.Original:0.##}% -> {a.Compressed:0.##}% on {a.Samples} labelled samples")
            : string.Empty;
        string gates = validation.Gates.Count == 0 ? string.Empty
            : "; gates: " + string.Join(", ", validation.Gates.Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Gate} {(g.Passed ? "met" : "MISSED")} ({g.Measured:G6} against {g.Limit:G6})")));
        return $"validated in ONNX Runtime {validation.OnnxRuntimeVersion}{against} on {inputs}: {string.Join("; ", outputs)}{accuracy}{gates}";
    }

    private void Diagnostic(string severity, string code, string message)
    {
        string text = message.StartsWith(code + ":", StringComparison.Ordinal) ? message[(code.Length + 1)..].TrimStart() : message;
        // One diagnostic, one line, in both formats: messages can carry line breaks from ONNX Runtime or .NET
        // (a library that fails to load), and a second line would read as a separate, code-less message.
        text = string.Join(' ', text.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        string line = format == DiagnosticFormat.MSBuild
            ? $"{modelPath} : {severity} {code}: {text}"
            : $"onnx-compress: {severity} {code}: {text}";
        (severity == "error" ? error : output).WriteLine(line);
    }
}
