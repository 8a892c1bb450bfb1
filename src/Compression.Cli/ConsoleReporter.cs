using System.Globalization;
using Compression.Core;
using Compression.Core.Reporting;
using Compression.Core.Evaluation;
using Compression.Core.Search;

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

    /// <summary>
    /// What was done: in the Text format the size line, then the details indented; in the MSBuild format first one
    /// line for the build's default output (<see cref="BuildSummary"/>), then the same details, indented, which the
    /// build logs at a lower importance (and each <c>note:</c> once per build).
    /// </summary>
    public void Summary(CompressionRequest request, CompressionOutcome outcome, TimeSpan elapsed)
    {
        CompressionReport report = outcome.Report;
        foreach (CompressionWarning warning in outcome.Warnings)
        {
            Diagnostic("warning", warning.Code, warning.Message);
        }

        string techniques = outcome.Signature.Compression.Count == 0 ? "copied without compression" : string.Join("; ", outcome.Signature.Compression);
        string fromCache = outcome.FromCache ? " (from cache)" : string.Empty;
        if (format == DiagnosticFormat.MSBuild)
        {
            output.WriteLine(BuildSummary(report, techniques, elapsed, outcome.FromCache));
        }

        output.WriteLine((format == DiagnosticFormat.MSBuild ? "  " : string.Empty) + string.Create(CultureInfo.InvariantCulture,
            $"{report.Source}: {Sizes(report.Size)}; {techniques}{fromCache}"));
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

        if (report.Search is { } search)
        {
            foreach (string line in DescribeSearch(search, request.SearchOverridesPath, format))
            {
                output.WriteLine("  " + line);
            }
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

    /// <summary>A progress line for a long compression: indented, so that the build logs it at low importance.</summary>
    public void Progress(TimeSpan elapsed) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {modelPath}: still compressing after {elapsed.TotalSeconds:0}s"));

    /// <summary>
    /// The one line a build shows per model: <c>SOURCE: compressed in 1.4s; 341,444 -> 90,671 bytes (0.27x), zipped 318,276 -> 83,529 (0.26x); TECHNIQUES;
    /// validated in ONNX Runtime 1.31.1: cosine 0.999977, max abs error 0.007563, accuracy 97.5% -> 97.5%</c>. The part after the colon
    /// starts with what happened (<c>compressed in</c>, <c>from cache in</c>; the build writes <c>up to date</c> for a model
    /// it skipped).
    /// </summary>
    public static string BuildSummary(CompressionReport report, string techniques, TimeSpan elapsed, bool fromCache)
    {
        string figures = "not validated";
        if (report.Validation is { } validation)
        {
            var parts = new List<string>();
            double[] cosines = [.. validation.Outputs.Where(o => o.CosineSimilarity is not null).Select(o => o.CosineSimilarity!.Value)];
            if (cosines.Length > 0)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"cosine {cosines.Min():0.000000}"));
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"max abs error {validation.Outputs.Where(o => o.CosineSimilarity is not null).Max(o => o.MaxAbsError):G4}"));
            }

            long mismatches = validation.Outputs.Where(o => o.CosineSimilarity is null).Sum(o => o.Mismatches);
            if (validation.Outputs.Any(o => o.CosineSimilarity is null))
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{mismatches} elements differ"));
            }

            if (validation.Accuracy is { } accuracy)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"accuracy {accuracy.Original:0.##}% -> {accuracy.Compressed:0.##}%"));
            }

            figures = $"validated in ONNX Runtime {validation.OnnxRuntimeVersion}: " + string.Join(", ", parts);
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{report.Source}: {(fromCache ? "from cache" : "compressed")} in {elapsed.TotalSeconds:0.0}s; {Sizes(report.Size)}; {techniques}; {figures}");
    }

    /// <summary>The sizes: <c>341,444 -> 90,671 bytes (0.27x), zipped 318,276 -> 83,529 (0.26x)</c>.</summary>
    private static string Sizes(SizeReport size) => string.Create(CultureInfo.InvariantCulture,
        $"{size.Original:N0} -> {size.Compressed:N0} bytes ({size.Ratio:0.00}x)") + (size is { ZippedOriginal: { } before, ZippedCompressed: { } after, ZippedRatio: { } ratio }
        ? string.Create(CultureInfo.InvariantCulture, $", zipped {before:N0} -> {after:N0} ({ratio:0.00}x)")
        : string.Empty);

    /// <summary>
    /// What the budget search did, in two lines: <c>budget search (Goal=size): MaxAccuracyDrop=1 (the default budget of Compress=auto);
    /// chose 3 layers: int8 + prune 90% x2, int4 x1 (step 4 of 17); 4 trials verified, 3 passed</c>, then where its choice went as
    /// an overrides file and how to pin it (for a build, only where it went: the build says how to pin it in a project).
    /// </summary>
    internal static IReadOnlyList<string> DescribeSearch(SearchReport search, string? overridesPath, DiagnosticFormat format)
    {
        string budget = string.Join(", ", search.Budget.Select(b => string.Create(CultureInfo.InvariantCulture, $"{b.Gate}={b.Limit:G6} ({b.Source})")));
        string choice;
        if (search.Chosen < 0)
        {
            choice = search.Layers.Count == 0
                ? "no layer to choose for"
                : $"kept all {search.Layers.Count} layers as they were: no choice verified passed the budget";
        }
        else
        {
            // The candidates in the report's order (the least compressing first), layers left alone last.
            var counts = search.Layers.GroupBy(l => l.Chosen)
                .OrderBy(g => g.Key == SearchCandidate.None.Name ? int.MaxValue : IndexOf(search.Candidates, g.Key))
                .Select(g => string.Create(CultureInfo.InvariantCulture, $"{(g.Key == SearchCandidate.None.Name ? "left alone" : g.Key)} x{g.Count()}"));
            choice = $"chose {search.Layers.Count} layer{(search.Layers.Count == 1 ? string.Empty : "s")}: {string.Join(", ", counts)} ({search.Trials[search.Chosen].Label})";
        }

        string trials = string.Create(CultureInfo.InvariantCulture, $"{search.Trials.Count} trial{(search.Trials.Count == 1 ? string.Empty : "s")} verified, {search.Trials.Count(t => t.Passed)} passed")
            + (search.TimeLimitReached ? string.Create(CultureInfo.InvariantCulture, $", stopped at SearchTimeLimit={search.TimeLimitSeconds} s") : string.Empty);
        string summary = $"budget search (Goal={search.Goal}): {budget}; {choice}; {trials}";
        if (format == DiagnosticFormat.MSBuild)
        {
            return overridesPath is null ? [summary] : [summary, $"search choice written to {overridesPath}"];
        }

        string overrides = overridesPath is null
            ? "search choice not written as an overrides file: --write-overrides FILE writes it, to pin it with --overrides FILE --compress manual"
            : $"search choice written to {overridesPath}: pin it with --overrides {overridesPath} --compress manual";
        return [summary, overrides];

        static int IndexOf(IReadOnlyList<string> candidates, string name)
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                if (candidates[i] == name)
                {
                    return i;
                }
            }

            return candidates.Count;
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
