using System.Globalization;
using System.Text;
using Compression.Core.Search;
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

        if (report.Search is { } search)
        {
            SearchSection(html, report, search);
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

    /// <summary>
    /// The budget search (<c>Compress=auto</c>): the goal and budget, the choice against the uncompressed model and the best
    /// uniform choice, the sensitivity table (each layer with each candidate alone), the trials in the order they were
    /// verified, and a chart of the trials: deployed bytes (or run time) against the first gate's measured value.
    /// </summary>
    private static void SearchSection(StringBuilder html, ReportView report, SearchView search)
    {
        html.Append("<section class=\"search\">\n<h3>Budget search</h3>\n<table class=\"search-summary\">\n");
        Row(html, "Goal", search.IsLatency ? "latency: the fastest model in ONNX Runtime on this machine" : "size: the smallest deployed (zipped) model");
        Row(html, "Techniques", string.Join(", ", search.Techniques));
        Row(html, "Budget", string.Join("; ", search.Budget.Select(b => Invariant($"{b.Gate} = {b.Limit:G6} ({b.Source})"))));
        if (search.TimeLimitSeconds is { } limit)
        {
            Row(html, "Time limit", Invariant($"{limit:N0} s") + (search.TimeLimitReached ? ", reached: the choice is the best verified before it" : ", not reached"));
        }

        string floor = report.ZippedOriginalBytes is { } zippedOriginal
            ? Invariant($"{zippedOriginal:N0} bytes zipped ({report.OriginalBytes:N0} bytes)")
            : Invariant($"{report.OriginalBytes:N0} bytes");
        Row(html, "Uncompressed", floor);
        if (search.Floor is { } searchFloor)
        {
            Row(html, "Floor", "every searched layer left alone: " + Describe(search, searchFloor));
        }

        if (search.Chosen >= 0)
        {
            SearchTrialView chosen = search.Trials[search.Chosen];
            string versus = report.ZippedOriginalBytes is { } original && original > 0 && !search.IsLatency ? Invariant($", {(double)chosen.ZippedBytes / original:0.000}x the uncompressed") : string.Empty;
            Row(html, "Chosen", Invariant($"{chosen.Label} (trial {search.Chosen + 1}): {Describe(search, chosen)}{versus}; ") + Choice(search));
        }
        else
        {
            Row(html, "Chosen", search.Layers.Count == 0 ? "no layer to choose for" : "no choice verified passed the budget: every layer was left as it was");
        }

        if (search.BestUniform >= 0)
        {
            SearchTrialView uniform = search.Trials[search.BestUniform];
            string versus = search.Chosen >= 0 && search.Chosen != search.BestUniform && Objective(search, uniform) > 0
                ? Invariant($"; the choice is {Objective(search, search.Trials[search.Chosen]) / Objective(search, uniform):0.000}x of it")
                : string.Empty;
            Row(html, "Best uniform", Invariant($"{uniform.Label} (trial {search.BestUniform + 1}): {Describe(search, uniform)}{versus}"));
        }
        else
        {
            int uniforms = search.Trials.Count(t => t.Kind == "uniform");
            Row(html, "Best uniform", uniforms > 0
                ? Invariant($"none passed: {uniforms} uniform trial{(uniforms == 1 ? string.Empty : "s")} missed the budget")
                : "not verified: by the layers' scores no single candidate on every layer could beat the choice");
        }

        html.Append("</table>\n");

        SearchChart(html, search);
        SearchLayers(html, search);
        SearchTrials(html, search);
        html.Append("</section>\n");
    }

    /// <summary><c>step 4 of 17: 28,071 bytes zipped (82,446 bytes), MaxAccuracyDrop 0.833333</c>.</summary>
    private static string Describe(SearchView search, SearchTrialView trial) =>
        Invariant($"{trial.ZippedBytes:N0} bytes zipped ({trial.Bytes:N0} bytes)")
        + (trial.LatencyMs is { } ms ? Invariant($", {ms:0.###} ms") : string.Empty)
        + string.Concat(trial.Gates.Select(g => Invariant($", {g.Gate} {Number(g.Measured, "G6")}")));

    /// <summary>The layers' choice: <c>3 layers: int4 x1, int8 + prune 90% x2</c>.</summary>
    private static string Choice(SearchView search)
    {
        IEnumerable<string> counts = search.Layers.GroupBy(l => l.Chosen)
            .OrderBy(g => g.Key == SearchCandidate.None.Name ? int.MaxValue : Math.Max(0, IndexOf(search.Candidates, g.Key)))
            .Select(g => Invariant($"{(g.Key == SearchCandidate.None.Name ? "left alone" : g.Key)} x{g.Count()}"));
        return Invariant($"{search.Layers.Count} layer{(search.Layers.Count == 1 ? string.Empty : "s")}: ") + string.Join(", ", counts);
    }

    private static int IndexOf(IReadOnlyList<string> list, string item)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] == item)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>What the search minimized for a trial: its deployed bytes, or its run time.</summary>
    private static double Objective(SearchView search, SearchTrialView trial) => search.IsLatency ? trial.LatencyMs ?? double.NaN : trial.ZippedBytes;

    /// <summary>The first gate's measured value for a trial, or null.</summary>
    private static double? FirstGate(SearchView search, SearchTrialView trial) =>
        search.Budget.Count == 0 ? null : trial.Gates.FirstOrDefault(g => g.Gate == search.Budget[0].Gate)?.Measured;

    private const double PlotLeft = 100;
    private const double PlotTop = 40;
    private const double PlotWidth = 560;
    private const double PlotHeight = 260;

    /// <summary>
    /// One point per trial: x its deployed bytes (run time for Goal=latency), y the first gate's measured value; the gate's
    /// limit is a dashed line, path trials are circles, uniform trials squares, passed green and missed red, the chosen one ringed.
    /// </summary>
    private static void SearchChart(StringBuilder html, SearchView search)
    {
        var points = search.Trials.Select((t, i) => (Trial: t, Index: i, X: Objective(search, t), Y: FirstGate(search, t)))
            .Where(p => double.IsFinite(p.X) && p.Y is { } y && double.IsFinite(y)).Select(p => (p.Trial, p.Index, p.X, Y: p.Y!.Value)).ToList();
        if (points.Count == 0)
        {
            html.Append("<p>No trial to chart.</p>\n");
            return;
        }

        SearchBudgetView gate = search.Budget[0];
        (double xMin, double xMax) = Range(points.Select(p => p.X));
        (double yMin, double yMax) = Range(points.Select(p => p.Y).Append(gate.Limit).Where(double.IsFinite));
        double X(double value) => Math.Round(PlotLeft + (PlotWidth * (value - xMin) / (xMax - xMin)), 2);
        double Y(double value) => Math.Round(PlotTop + PlotHeight - (PlotHeight * (value - yMin) / (yMax - yMin)), 2);
        string xFormat = search.IsLatency ? "0.###" : "N0";
        string xAxis = search.IsLatency ? "run time (ms, one thread)" : "deployed (zipped) bytes";

        double width = PlotLeft + PlotWidth + 30;
        double height = PlotTop + PlotHeight + 56;
        html.Append(Invariant($"<svg class=\"chart search-chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Each trial of the budget search: {xAxis} against {Escape(gate.Gate)}\">\n"));

        // Legend.
        html.Append(Invariant($"<g class=\"legend\"><circle class=\"point path passed\" cx=\"{PlotLeft + 6}\" cy=\"12\" r=\"5\"/><text class=\"heading\" x=\"{PlotLeft + 16}\" y=\"16\">path trial</text>"))
            .Append(Invariant($"<rect class=\"point uniform passed\" x=\"{PlotLeft + 96}\" y=\"7\" width=\"10\" height=\"10\"/><text class=\"heading\" x=\"{PlotLeft + 112}\" y=\"16\">uniform trial</text>"))
            .Append(Invariant($"<circle class=\"point path missed\" cx=\"{PlotLeft + 206}\" cy=\"12\" r=\"5\"/><text class=\"heading\" x=\"{PlotLeft + 216}\" y=\"16\">missed the budget</text>"))
            .Append(Invariant($"<circle class=\"chosen-ring\" cx=\"{PlotLeft + 356}\" cy=\"12\" r=\"8\"/><text class=\"heading\" x=\"{PlotLeft + 370}\" y=\"16\">chosen</text>"))
            .Append(Invariant($"<line class=\"limit\" x1=\"{PlotLeft + 430}\" y1=\"12\" x2=\"{PlotLeft + 454}\" y2=\"12\"/><text class=\"heading\" x=\"{PlotLeft + 460}\" y=\"16\">budget limit</text></g>\n"));

        // Axes, their ends and middles labelled, and their names.
        html.Append(Invariant($"<rect class=\"plot\" x=\"{PlotLeft}\" y=\"{PlotTop}\" width=\"{PlotWidth}\" height=\"{PlotHeight}\"/>\n"));
        foreach (double fraction in (double[])[0, 0.5, 1])
        {
            double xValue = xMin + (fraction * (xMax - xMin));
            double yValue = yMin + (fraction * (yMax - yMin));
            html.Append(Invariant($"<text class=\"tick x-tick\" x=\"{X(xValue)}\" y=\"{PlotTop + PlotHeight + 16}\">{xValue.ToString(xFormat, CultureInfo.InvariantCulture)}</text>"))
                .Append(Invariant($"<text class=\"tick y-tick\" x=\"{PlotLeft - 6}\" y=\"{Y(yValue) + 4}\">{yValue.ToString("G4", CultureInfo.InvariantCulture)}</text>\n"));
        }

        html.Append(Invariant($"<text class=\"axis-label x-label\" x=\"{PlotLeft + (PlotWidth / 2)}\" y=\"{PlotTop + PlotHeight + 40}\">{xAxis}</text>"))
            .Append(Invariant($"<text class=\"axis-label y-label\" x=\"{16}\" y=\"{PlotTop + (PlotHeight / 2)}\" transform=\"rotate(-90 16 {PlotTop + (PlotHeight / 2)})\">")).Append(Escape(gate.Gate)).Append(" (measured)</text>\n");

        // The budget's limit.
        if (double.IsFinite(gate.Limit))
        {
            html.Append(Invariant($"<line class=\"limit\" x1=\"{PlotLeft}\" y1=\"{Y(gate.Limit)}\" x2=\"{PlotLeft + PlotWidth}\" y2=\"{Y(gate.Limit)}\" data-value=\"{gate.Limit.ToString("R", CultureInfo.InvariantCulture)}\"><title>"))
                .Append(Escape(Invariant($"{gate.Gate} = {gate.Limit:G6} ({gate.Source})"))).Append("</title></line>\n");
        }

        // The trials, in the order they were verified, numbered.
        foreach ((SearchTrialView trial, int index, double xValue, double yValue) in points)
        {
            string cssClass = $"point {(trial.Kind == "uniform" ? "uniform" : "path")} {(trial.Passed ? "passed" : "missed")}{(index == search.Chosen ? " chosen" : string.Empty)}";
            double cx = X(xValue), cy = Y(yValue);
            string data = Invariant($" data-trial=\"{index}\" data-x=\"{xValue.ToString("R", CultureInfo.InvariantCulture)}\" data-y=\"{yValue.ToString("R", CultureInfo.InvariantCulture)}\"");
            string title = Invariant($"trial {index + 1}, {trial.Label}: {Describe(search, trial)}, {(trial.Passed ? "passed" : "missed the budget")}");
            if (index == search.Chosen)
            {
                html.Append(Invariant($"<circle class=\"chosen-ring\" cx=\"{cx}\" cy=\"{cy}\" r=\"9\"/>"));
            }

            html.Append(trial.Kind == "uniform"
                ? Invariant($"<rect class=\"{cssClass}\" x=\"{cx - 5}\" y=\"{cy - 5}\" width=\"10\" height=\"10\"{data}><title>")
                : Invariant($"<circle class=\"{cssClass}\" cx=\"{cx}\" cy=\"{cy}\" r=\"5\"{data}><title>"))
                .Append(Escape(title)).Append(trial.Kind == "uniform" ? "</title></rect>" : "</title></circle>")
                .Append(Invariant($"<text class=\"trial-number\" x=\"{cx + 8}\" y=\"{cy - 7}\">{index + 1}</text>\n"));
        }

        html.Append("</svg>\n");
    }

    /// <summary>The lowest and highest of <paramref name="values"/>, 6% wider on each side, never empty.</summary>
    private static (double Min, double Max) Range(IEnumerable<double> values)
    {
        double min = values.Min(), max = values.Max();
        double pad = max > min ? (max - min) * 0.06 : Math.Max(Math.Abs(max) * 0.05, 1e-6);
        return (min - pad, max + pad);
    }

    /// <summary>The sensitivity table: a row per layer, a column per candidate with its damage, saving and whether it passed alone.</summary>
    private static void SearchLayers(StringBuilder html, SearchView search)
    {
        html.Append("<h4>Layers: each candidate alone</h4>\n<div class=\"wide\"><table class=\"search-layers\">\n<tr><th>Node</th><th>Op type</th><th>Shape</th><th>Chosen</th>");
        foreach (string candidate in search.Candidates)
        {
            html.Append("<th>").Append(Escape(candidate)).Append("</th>");
        }

        html.Append("</tr>\n");
        foreach (SearchLayerView layer in search.Layers)
        {
            html.Append("<tr data-node=\"").Append(Escape(layer.Node)).Append("\"><td>").Append(Escape(layer.Node)).Append("</td><td>").Append(Escape(layer.OpType)).Append("</td>");
            Cell(html, layer.Shape is null ? "-" : "[" + string.Join(", ", layer.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]");
            html.Append("<td class=\"text\">").Append(Escape(layer.Chosen)).Append("</td>");
            foreach (string candidate in search.Candidates)
            {
                SearchCellView? cell = layer.Cells.FirstOrDefault(c => c.Candidate == candidate);
                if (cell is null)
                {
                    html.Append("<td class=\"cell na\">-</td>");
                    continue;
                }

                string state = cell.Failed is not null ? "failed" : cell.PassedAlone ? "passed" : "missed";
                html.Append("<td class=\"cell ").Append(state).Append(candidate == layer.Chosen ? " chosen" : string.Empty).Append("\" data-candidate=\"").Append(Escape(candidate)).Append("\">");
                if (cell.Failed is not null)
                {
                    html.Append("could not apply<br/><span class=\"why\">").Append(Escape(cell.Failed)).Append("</span></td>");
                    continue;
                }

                html.Append("damage ").Append(Escape(Number(cell.Damage, "G3"))).Append("<br/>")
                    .Append(Escape(search.IsLatency && cell.LatencyMs is { } ms ? Invariant($"{ms:0.###} ms") : Invariant($"saves {cell.ZippedSaved:N0} B")))
                    .Append("<br/>").Append(cell.PassedAlone ? "passed alone" : "missed alone").Append("</td>");
            }

            html.Append("</tr>\n");
        }

        html.Append("</table></div>\n<p class=\"legend-text\">Damage: the outputs' relative squared error with only that layer compressed. Saves: deployed (zipped) bytes of the layer's tensors saved.</p>\n");
    }

    /// <summary>The trials in the order they were verified.</summary>
    private static void SearchTrials(StringBuilder html, SearchView search)
    {
        html.Append("<h4>Trials, in the order verified</h4>\n<table class=\"search-trials\">\n<tr><th>#</th><th>Kind</th><th>Choice</th><th>Predicted damage</th><th>Damage</th><th>Deployed bytes</th><th>Bytes</th>");
        if (search.IsLatency)
        {
            html.Append("<th>Run time (ms)</th>");
        }

        foreach (SearchBudgetView gate in search.Budget)
        {
            html.Append("<th>").Append(Escape(gate.Gate)).Append("</th>");
        }

        html.Append("<th>Result</th></tr>\n");
        for (int i = 0; i < search.Trials.Count; i++)
        {
            SearchTrialView trial = search.Trials[i];
            html.Append("<tr class=\"").Append(trial.Passed ? "met" : "missed").Append(i == search.Chosen ? " chosen" : string.Empty).Append(Invariant($"\" data-trial=\"{i}\">"));
            Cell(html, (i + 1).ToString(CultureInfo.InvariantCulture));
            html.Append("<td>").Append(Escape(trial.Kind)).Append("</td><td>").Append(Escape(trial.Label)).Append("</td>");
            Cell(html, Number(trial.PredictedDamage, "G4"));
            Cell(html, Number(trial.Damage, "G4"));
            Cell(html, trial.ZippedBytes.ToString("N0", CultureInfo.InvariantCulture));
            Cell(html, trial.Bytes.ToString("N0", CultureInfo.InvariantCulture));
            if (search.IsLatency)
            {
                Cell(html, Number(trial.LatencyMs, "0.###"));
            }

            foreach (SearchBudgetView gate in search.Budget)
            {
                Cell(html, Number(trial.Gates.FirstOrDefault(g => g.Gate == gate.Gate)?.Measured, "G6"));
            }

            string result = (trial.Passed ? "passed" : "missed") + (i == search.Chosen ? ", chosen" : string.Empty) + (i == search.BestUniform ? ", best uniform" : string.Empty);
            html.Append("<td>").Append(result).Append("</td></tr>\n");
        }

        html.Append("</table>\n");
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
        h4 { font-size: 0.95em; margin-top: 1.2em; }
        div.wide { overflow-x: auto; }
        td.cell { font-size: 0.85em; white-space: nowrap; }
        td.cell.missed, td.cell.failed { color: #9b2c2c; }
        td.cell.na { color: #a0aec0; text-align: center; }
        td.cell.chosen { background: #bee3f8; font-weight: 600; }
        tr.chosen td { font-weight: 600; }
        span.why { white-space: normal; }
        svg rect.plot { fill: none; stroke: #a0aec0; }
        svg text.tick, svg text.trial-number { fill: #4a5568; font-size: 11px; }
        svg text.x-tick, svg text.x-label, svg text.y-label { text-anchor: middle; }
        svg text.y-tick { text-anchor: end; }
        svg text.axis-label { fill: #2d3748; }
        svg .point.passed { fill: #2f855a; }
        svg .point.missed { fill: #c53030; }
        svg .chosen-ring { fill: none; stroke: #2b6cb0; stroke-width: 2.5; }
        svg line.limit { stroke: #b7791f; stroke-width: 1.5; stroke-dasharray: 6 4; }

        """;
}
