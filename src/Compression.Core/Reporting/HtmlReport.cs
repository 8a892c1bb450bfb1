using System.Globalization;
using System.Text;
using Compression.Onnx;

namespace Compression.Core.Reporting;

/// <summary>
/// One self-contained HTML page for the models of a build, made from their JSON reports: per model the summary (sizes,
/// ratio, techniques, validation figures and gates, notes, warnings, time), a chart of the bytes of each weight tensor
/// before and after, a chart of bits per weight and sparsity per tensor, and the error figures. The charts are static
/// SVG drawn here, the style is inline CSS: the page has no script and loads nothing (no links, images, fonts or
/// network addresses), so it renders the same anywhere, offline. Every string taken from a report (names come from the
/// model: hostile input) is escaped. The page is well-formed XML as well as HTML, so that tests can read it.
/// </summary>
public static class HtmlReport
{
    /// <summary>The bar of a tensor's bytes before compression is this wide for the largest tensor of its model.</summary>
    public const double SizeBarWidth = 480;

    /// <summary>The bar of 32 bits per weight is this wide.</summary>
    public const double BitsBarWidth = 320;

    /// <summary>The bar of a fully sparse tensor (sparsity 1) is this wide.</summary>
    public const double SparsityBarWidth = 120;

    private const double LabelWidth = 260;
    private const double RowHeight = 26;
    private const double BarHeight = 9;
    private const int LabelCharacters = 38;

    /// <summary>
    /// Reads the JSON reports <paramref name="reportPaths"/> and writes the page to <paramref name="outputPath"/> through a
    /// temporary file, so that it is whole or absent.
    /// </summary>
    /// <exception cref="CompressionException">A report cannot be read or is not a report (OCB0010), or the page cannot be
    /// written (OCB0004); nothing is written then.</exception>
    public static void Write(string outputPath, IReadOnlyList<string> reportPaths)
    {
        ArgumentNullException.ThrowIfNull(reportPaths);
        List<ReportView> reports = reportPaths.Select(ReportView.Read).ToList();
        byte[] page = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(Render(reports));
        string fullPath = Path.GetFullPath(outputPath);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
            AtomicFile.Write(fullPath, "the HTML compression report", stream => stream.Write(page));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, null,
                $"Could not write the HTML compression report to '{fullPath}': {e.Message} Check that the folder is writable.", e);
        }
    }

    /// <summary>The page for <paramref name="reports"/>, one section per report, in the order given.</summary>
    public static string Render(IReadOnlyList<ReportView> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
            .Append("<title>Compression report</title>\n<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>Compression report</h1>\n");
        long before = reports.Sum(r => r.OriginalBytes);
        long after = reports.Sum(r => r.CompressedBytes);
        html.Append("<p class=\"overview\">").Append(Invariant($"{reports.Count} model{(reports.Count == 1 ? string.Empty : "s")}: {before:N0} -> {after:N0} bytes"))
            .Append(before == 0 ? string.Empty : Invariant($" ({(double)after / before:0.000}x)")).Append("</p>\n");
        for (int i = 0; i < reports.Count; i++)
        {
            Section(html, reports[i], i + 1);
        }

        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static void Section(StringBuilder html, ReportView report, int index)
    {
        html.Append(Invariant($"<section class=\"model\" id=\"model-{index}\" data-source=\"")).Append(Escape(report.Source)).Append("\">\n")
            .Append("<h2>").Append(Escape(report.Source)).Append("</h2>\n");
        Summary(html, report);
        if (report.Validation is { } validation)
        {
            Validation(html, validation);
        }

        List<TensorView> weights = report.Tensors.Where(t => t.BytesBefore is not null).ToList();
        html.Append("<h3>Size per weight tensor</h3>\n");
        if (weights.Count == 0)
        {
            html.Append("<p>No weight tensor was looked at.</p>\n");
        }
        else
        {
            SizeChart(html, weights);
            html.Append("<h3>Bits per weight and sparsity</h3>\n");
            BitsChart(html, weights);
        }

        Tensors(html, report.Tensors);
        Settings(html, report);
        html.Append("</section>\n");
    }

    private static void Summary(StringBuilder html, ReportView report)
    {
        html.Append("<table class=\"summary\">\n");
        Row(html, "Size", Invariant($"{report.OriginalBytes:N0} -> {report.CompressedBytes:N0} bytes ({report.Ratio:0.000}x)"));
        if (report.ZippedOriginalBytes is { } zippedBefore && report.ZippedCompressedBytes is { } zippedAfter)
        {
            Row(html, "Zipped", Invariant($"{zippedBefore:N0} -> {zippedAfter:N0} bytes ({(zippedBefore == 0 ? 1 : (double)zippedAfter / zippedBefore):0.000}x), deflated as a zip stores the files"));
        }

        Row(html, "Compressed model", report.Output);
        html.Append("<tr><th>Techniques</th><td>");
        List(html, report.Techniques.Count == 0 ? ["copied without compression"] : report.Techniques, "techniques");
        html.Append("</td></tr>\n");
        if (report.Opset is not null)
        {
            Row(html, "Opset", report.Opset);
        }

        if (report.SessionConfig.Count > 0)
        {
            Row(html, "Session entries", string.Join(", ", report.SessionConfig.Select(e => e.Key + "=" + e.Value)));
        }

        Row(html, "Time", report.Timing is { } timing
            ? Invariant($"{timing.DurationMilliseconds:N0} ms") + (timing.Phases.Count == 0 ? string.Empty
                : " (" + string.Join(", ", timing.Phases.Select(p => Invariant($"{p.Name} {p.DurationMilliseconds:N0} ms"))) + ")")
            : "not recorded");
        Row(html, "Compressor", report.Tool);
        html.Append("</table>\n");
        if (report.Warnings.Count > 0)
        {
            html.Append("<h3>Warnings</h3>\n");
            List(html, report.Warnings, "warnings");
        }

        if (report.Notes.Count > 0)
        {
            html.Append("<h3>Notes</h3>\n");
            List(html, report.Notes, "notes");
        }
    }

    private static void Validation(StringBuilder html, ValidationView validation)
    {
        html.Append("<h3>Validation</h3>\n<p>")
            .Append(Escape(Invariant($"ONNX Runtime {validation.OnnxRuntimeVersion}, {validation.Samples} input sets ({validation.Source}), against the {validation.Reference}")));
        if (validation.Accuracy is { } accuracy)
        {
            html.Append(Escape(Invariant($"; accuracy {accuracy.Original:0.##}% -> {accuracy.Compressed:0.##}% on {accuracy.Samples} labelled samples")));
        }

        html.Append("</p>\n<table class=\"errors\">\n<tr><th>Output</th><th>Max abs error</th><th>Mean abs error</th><th>Cosine similarity</th><th>Top-1 agreement</th><th>Elements differing</th></tr>\n");
        foreach (OutputView output in validation.Outputs)
        {
            html.Append("<tr><td>").Append(Escape(output.Name)).Append("</td>");
            Cell(html, Number(output.MaxAbsError, "G4"));
            Cell(html, Number(output.MeanAbsError, "G4"));
            Cell(html, Number(output.CosineSimilarity, "0.000000"));
            Cell(html, output.Top1Agreement is { } top1 ? Invariant($"{top1 * 100:0.##}%") : "-");
            Cell(html, output.Mismatches is { } m ? Invariant($"{m:N0} of {output.Elements ?? 0:N0}") : "-");
            html.Append("</tr>\n");
        }

        html.Append("</table>\n");
        if (validation.Gates.Count > 0)
        {
            html.Append("<table class=\"gates\">\n<tr><th>Gate</th><th>Limit</th><th>Measured</th><th>Result</th></tr>\n");
            foreach (GateView gate in validation.Gates)
            {
                html.Append("<tr class=\"").Append(gate.Passed ? "met" : "missed").Append("\"><td>").Append(Escape(gate.Gate)).Append("</td>");
                Cell(html, Number(gate.Limit, "G6"));
                Cell(html, Number(gate.Measured, "G6"));
                Cell(html, gate.Passed ? "met" : "missed");
                html.Append("</tr>\n");
            }

            html.Append("</table>\n");
        }
    }

    /// <summary>Two bars per tensor, before and after, on one scale: the largest tensor's bytes before span <see cref="SizeBarWidth"/>.</summary>
    private static void SizeChart(StringBuilder html, List<TensorView> weights)
    {
        long largest = Math.Max(1, weights.Max(t => Math.Max(t.BytesBefore ?? 0, t.BytesAfter ?? 0)));
        double width = LabelWidth + SizeBarWidth + 200;
        double height = RowHeight * weights.Count + 30;
        html.Append(Invariant($"<svg class=\"chart size-chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Bytes of each weight tensor before and after\">\n"));
        Legend(html, ("before", "before"), ("after", "after"));
        for (int i = 0; i < weights.Count; i++)
        {
            TensorView tensor = weights[i];
            double y = 30 + (i * RowHeight);
            long bytesBefore = tensor.BytesBefore ?? 0;
            long bytesAfter = tensor.BytesAfter ?? 0;
            html.Append("<g class=\"row\" data-tensor=\"").Append(Escape(tensor.Name)).Append("\">");
            Label(html, tensor.Name, y);
            Bar(html, "bar before", LabelWidth, y, SizeBarWidth * bytesBefore / largest, bytesBefore, Invariant($"{tensor.Name}: {bytesBefore:N0} bytes before"));
            Bar(html, "bar after" + (tensor.Changed ? string.Empty : " unchanged"), LabelWidth, y + BarHeight + 1, SizeBarWidth * bytesAfter / largest, bytesAfter,
                Invariant($"{tensor.Name}: {bytesAfter:N0} bytes after") + (tensor.Changed ? string.Empty : " (left alone)"));
            html.Append(Invariant($"<text class=\"value\" x=\"{LabelWidth + SizeBarWidth + 8}\" y=\"{y + 14}\">"))
                .Append(Escape(Invariant($"{bytesBefore:N0} -> {bytesAfter:N0} B"))).Append("</text></g>\n");
        }

        html.Append("</svg>\n");
    }

    /// <summary>Bits per weight after (32 bits span <see cref="BitsBarWidth"/>) and sparsity (1 spans <see cref="SparsityBarWidth"/>).</summary>
    private static void BitsChart(StringBuilder html, List<TensorView> weights)
    {
        double sparsityX = LabelWidth + BitsBarWidth + 90;
        double width = sparsityX + SparsityBarWidth + 70;
        double height = RowHeight * weights.Count + 30;
        html.Append(Invariant($"<svg class=\"chart bits-chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Bits per weight and sparsity of each weight tensor\">\n"));
        html.Append(Invariant($"<text class=\"heading\" x=\"{LabelWidth}\" y=\"14\">bits per weight (32 = float)</text>"))
            .Append(Invariant($"<text class=\"heading\" x=\"{sparsityX}\" y=\"14\">sparsity</text>\n"));
        for (int i = 0; i < weights.Count; i++)
        {
            TensorView tensor = weights[i];
            double y = 30 + (i * RowHeight);
            double bits = tensor.BitsAfter ?? 0;
            html.Append("<g class=\"row\" data-tensor=\"").Append(Escape(tensor.Name)).Append("\">");
            Label(html, tensor.Name, y);
            Bar(html, "bar bits" + (tensor.Changed ? string.Empty : " unchanged"), LabelWidth, y + 5, BitsBarWidth * Math.Min(bits, 32) / 32, bits,
                Invariant($"{tensor.Name}: {bits:0.##} bits per weight"));
            html.Append(Invariant($"<text class=\"value\" x=\"{LabelWidth + BitsBarWidth + 8}\" y=\"{y + 14}\">{(tensor.BitsAfter is null ? "-" : bits.ToString("0.##", CultureInfo.InvariantCulture))}</text>"));
            Bar(html, "bar sparsity", sparsityX, y + 5, SparsityBarWidth * Math.Clamp(tensor.Sparsity, 0, 1), tensor.Sparsity,
                Invariant($"{tensor.Name}: sparsity {tensor.Sparsity:0.##%}"));
            html.Append(Invariant($"<text class=\"value\" x=\"{sparsityX + SparsityBarWidth + 8}\" y=\"{y + 14}\">{tensor.Sparsity * 100:0.#}%</text></g>\n"));
        }

        html.Append("</svg>\n");
    }

    private static void Tensors(StringBuilder html, IReadOnlyList<TensorView> tensors)
    {
        html.Append("<h3>Tensors</h3>\n");
        if (tensors.Count == 0)
        {
            html.Append("<p>The passes looked at no tensor.</p>\n");
            return;
        }

        html.Append("<table class=\"tensors\">\n<tr><th>Tensor</th><th>Read by</th><th>Shape</th><th>Technique, or why left alone</th><th>Bytes before</th><th>Bytes after</th>")
            .Append("<th>Bits per weight</th><th>Sparsity</th><th>Max abs error</th><th>Layer output error</th></tr>\n");
        foreach (TensorView tensor in tensors)
        {
            html.Append("<tr class=\"").Append(tensor.Changed ? "changed" : "left-alone").Append("\"><td>").Append(Escape(tensor.Name)).Append("</td><td>")
                .Append(Escape(tensor.OpTypes));
            if (tensor.Nodes.Count > 0)
            {
                html.Append("<br/><span class=\"nodes\">").Append(Escape(string.Join(", ", tensor.Nodes))).Append("</span>");
            }

            html.Append("</td>");
            Cell(html, tensor.Shape is null ? "-" : "[" + string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]");
            html.Append("<td class=\"text\">").Append(Escape(tensor.Technique)).Append("</td>");
            Cell(html, tensor.BytesBefore is { } b ? b.ToString("N0", CultureInfo.InvariantCulture) : "-");
            Cell(html, tensor.BytesAfter is { } a ? a.ToString("N0", CultureInfo.InvariantCulture) : "-");
            Cell(html, Number(tensor.BitsAfter, "0.##"));
            Cell(html, Invariant($"{tensor.Sparsity * 100:0.#}%"));
            Cell(html, Number(tensor.MaxAbsError, "G4"));
            Cell(html, Number(tensor.OutputError, "G4"));
            html.Append("</tr>\n");
        }

        html.Append("</table>\n");
    }

    private static void Settings(StringBuilder html, ReportView report)
    {
        if (report.Settings.Count == 0)
        {
            return;
        }

        html.Append("<details><summary>Settings</summary>\n<table class=\"settings\">\n<tr><th>Setting</th><th>Value</th><th>From</th></tr>\n");
        foreach ((string name, string value, string source) in report.Settings)
        {
            html.Append("<tr><td>").Append(Escape(name)).Append("</td><td>").Append(Escape(value)).Append("</td><td>").Append(Escape(source)).Append("</td></tr>\n");
        }

        html.Append("</table>\n</details>\n");
    }

    private static void Legend(StringBuilder html, params (string Class, string Text)[] entries)
    {
        double x = LabelWidth;
        foreach ((string cssClass, string text) in entries)
        {
            html.Append(Invariant($"<rect class=\"legend {cssClass}\" x=\"{x}\" y=\"4\" width=\"12\" height=\"12\"/><text class=\"heading\" x=\"{x + 16}\" y=\"14\">{text}</text>"));
            x += 90;
        }

        html.Append('\n');
    }

    private static void Label(StringBuilder html, string name, double y)
    {
        string shown = name.Length <= LabelCharacters ? name : name[..(LabelCharacters - 1)] + "\u2026";
        html.Append(Invariant($"<text class=\"label\" x=\"{LabelWidth - 8}\" y=\"{y + 14}\">")).Append(Escape(shown)).Append("<title>").Append(Escape(name)).Append("</title></text>");
    }

    private static void Bar(StringBuilder html, string cssClass, double x, double y, double width, double value, string title) =>
        html.Append(Invariant($"<rect class=\"{cssClass}\" x=\"{x}\" y=\"{y}\" width=\"{Math.Round(width, 2)}\" height=\"{BarHeight}\" data-value=\"{value}\"><title>"))
            .Append(Escape(title)).Append("</title></rect>");

    private static void Row(StringBuilder html, string header, string value) =>
        html.Append("<tr><th>").Append(header).Append("</th><td>").Append(Escape(value)).Append("</td></tr>\n");

    private static void Cell(StringBuilder html, string value) => html.Append("<td class=\"number\">").Append(Escape(value)).Append("</td>");

    private static void List(StringBuilder html, IEnumerable<string> items, string cssClass)
    {
        html.Append("<ul class=\"").Append(cssClass).Append("\">");
        foreach (string item in items)
        {
            html.Append("<li>").Append(Escape(item)).Append("</li>");
        }

        html.Append("</ul>\n");
    }

    private static string Number(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// <paramref name="text"/> as HTML text or attribute value: markup characters as entities, and control characters
    /// and unpaired surrogates, which neither HTML nor XML allows, as U+FFFD.
    /// </summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var escaped = new StringBuilder(text.Length + 16);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                case '"': escaped.Append("&quot;"); break;
                case '\'': escaped.Append("&#39;"); break;
                case '\t' or '\n': escaped.Append(c); break;
                case < ' ' or '\u007f' or '\ufffe' or '\uffff': escaped.Append('\ufffd'); break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                    {
                        escaped.Append(c).Append(text[++i]);
                    }
                    else
                    {
                        escaped.Append(char.IsSurrogate(c) ? '\ufffd' : c);
                    }

                    break;
            }
        }

        return escaped.ToString();
    }

    private const string Style = """
        body { font-family: system-ui, sans-serif; margin: 2em; color: #1a202c; background: #ffffff; }
        h1 { font-size: 1.6em; }
        h2 { font-size: 1.3em; border-bottom: 2px solid #2b6cb0; padding-bottom: 0.2em; margin-top: 2em; }
        h3 { font-size: 1.05em; margin-top: 1.4em; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        th, td { border: 1px solid #cbd5e0; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
        th { background: #edf2f7; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tr.left-alone td { color: #4a5568; }
        tr.missed td { background: #fed7d7; }
        tr.met td { background: #f0fff4; }
        ul.warnings li { color: #9c4221; }
        span.nodes { color: #718096; font-size: 0.85em; }
        section.model { margin-bottom: 3em; }
        svg.chart { display: block; margin: 0.5em 0; font-size: 12px; }
        svg text.label { text-anchor: end; fill: #2d3748; }
        svg text.value, svg text.heading { fill: #4a5568; }
        rect.before { fill: #a0aec0; }
        rect.after { fill: #2b6cb0; }
        rect.bits { fill: #2f855a; }
        rect.unchanged { fill: #cbd5e0; }
        rect.sparsity { fill: #b7791f; }

        """;
}
