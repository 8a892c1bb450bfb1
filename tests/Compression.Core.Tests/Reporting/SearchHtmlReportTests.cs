using System.Globalization;
using System.Xml.Linq;
using Compression.Core.Evaluation;
using Compression.Core.Passes;
using Compression.Core.Reporting;
using Compression.Core.Search;
using Compression.Core.Settings;

namespace Compression.Core.Tests.Reporting;

/// <summary>The digits MLP compressed with <c>Compress=auto</c> on 120 labelled samples, its JSON report written.</summary>
public sealed class SearchedDigits : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public SearchedDigits()
    {
        ReportPath = folder.File("obj", "digits.onnx.report.json");
        Outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("obj", "digits.onnx"))
        {
            ReportPath = ReportPath,
            SourceName = "Models/digits.onnx",
            Settings = CompressionSettings.Default
                .Set(SearchSettings.Compress, SearchSettings.Auto)
                .Set(EvaluationSettings.ValidationData, LabelledDigits.Write(folder.File("validation"), 0, 120)),
        });
    }

    public CompressionOutcome Outcome { get; }

    public SearchReport Search => Outcome.Report.Search!;

    public string ReportPath { get; }

    public void Dispose() => folder.Dispose();
}

/// <summary>
/// The HTML report's "Budget search" section: the goal, budget and choice, the sensitivity table, the trials in order, and
/// a chart with one point per trial (deployed bytes against the budget's first gate), the limit drawn and the choice marked.
/// </summary>
public sealed class SearchHtmlReportTests : IClassFixture<SearchedDigits>, IDisposable
{
    private readonly SearchedDigits digits;
    private readonly TemporaryFolder folder = new();

    public SearchHtmlReportTests(SearchedDigits digits) => this.digits = digits;

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_section_gives_the_goal_budget_and_choice_a_row_per_layer_and_the_trials_in_order()
    {
        SearchReport search = digits.Search;
        Assert.True(search.Chosen >= 0, "The search kept no choice on the digits MLP.");
        SearchTrial chosen = search.Trials[search.Chosen];

        XElement section = SearchSection(Render(digits.ReportPath));

        Assert.Equal("Budget search", section.Element("h3")!.Value);
        Dictionary<string, string> summary = section.Descendants("table").Single(t => Class(t) == "search-summary").Elements("tr")
            .ToDictionary(tr => tr.Element("th")!.Value, tr => tr.Element("td")!.Value);
        Assert.Equal("size: the smallest deployed (zipped) model", summary["Goal"]);
        Assert.Equal("quantize, prune", summary["Techniques"]);
        Assert.Equal("MaxAccuracyDrop = 1 (the default budget of Compress=auto)", summary["Budget"]);
        Assert.Equal(Invariant($"{digits.Outcome.Report.Size.ZippedOriginal:N0} bytes zipped ({digits.Outcome.Report.Size.Original:N0} bytes)"), summary["Uncompressed"]);
        Assert.StartsWith(Invariant($"{chosen.Label} (trial {search.Chosen + 1}): {chosen.ZippedBytes:N0} bytes zipped ({chosen.Bytes:N0} bytes), MaxAccuracyDrop "), summary["Chosen"], StringComparison.Ordinal);
        Assert.EndsWith($"; 3 layers: {string.Join(", ", search.Layers.GroupBy(l => l.Chosen).OrderBy(g => search.Candidates.ToList().IndexOf(g.Key)).Select(g => $"{g.Key} x{g.Count()}"))}",
            summary["Chosen"], StringComparison.Ordinal);
        string bestUniform = search.BestUniform >= 0 ? Invariant($"{search.Trials[search.BestUniform].Label} (trial {search.BestUniform + 1}): ")
            : search.Trials.Any(t => t.Kind == "uniform") ? "none passed: " : "not verified: ";
        Assert.StartsWith(bestUniform, summary["Best uniform"], StringComparison.Ordinal);

        // One row per layer; one cell per candidate, the chosen one marked, with its damage, saving and whether it passed alone.
        XElement layers = section.Descendants("table").Single(t => Class(t) == "search-layers");
        Assert.Equal(["Node", "Op type", "Shape", "Chosen", .. search.Candidates], layers.Elements("tr").First().Elements("th").Select(th => th.Value));
        XElement[] rows = [.. layers.Elements("tr").Skip(1)];
        Assert.Equal(search.Layers.Select(l => l.Node), rows.Select(r => (string)r.Attribute("data-node")!));
        foreach ((SearchLayerReport layer, XElement row) in search.Layers.Zip(rows))
        {
            XElement[] cells = [.. row.Elements("td").Where(td => Class(td).StartsWith("cell ", StringComparison.Ordinal))];
            Assert.Equal(layer.Chosen, (string)cells.Single(c => Class(c).Split(' ').Contains("chosen")).Attribute("data-candidate")!);
            foreach (SensitivityEntry entry in layer.Candidates)
            {
                XElement cell = cells.Single(c => (string?)c.Attribute("data-candidate") == entry.Candidate);
                Assert.Equal(
                    Invariant($"damage {entry.Damage.ToString("G3", CultureInfo.InvariantCulture)}saves {entry.ZippedBefore - entry.ZippedAfter:N0} B{(entry.PassedAlone ? "passed alone" : "missed alone")}"),
                    cell.Value);
            }
        }

        // The trials in the order verified, with the measured gate; the chosen one marked.
        XElement trials = section.Descendants("table").Single(t => Class(t) == "search-trials");
        XElement[] trialRows = [.. trials.Elements("tr").Skip(1)];
        Assert.Equal(search.Trials.Select(t => t.Label), trialRows.Select(r => r.Elements("td").ElementAt(2).Value));
        Assert.Equal(search.Trials.Select(t => t.ZippedBytes.ToString("N0", CultureInfo.InvariantCulture)), trialRows.Select(r => r.Elements("td").ElementAt(5).Value));
        Assert.Equal(search.Trials.Select(t => t.Gates.Single().Measured.ToString("G6", CultureInfo.InvariantCulture)), trialRows.Select(r => r.Elements("td").ElementAt(7).Value));
        Assert.Equal(search.Trials.Select(t => t.Passed ? "met" : "missed"), trialRows.Select(r => Class(r).Split(' ')[0]));
        Assert.Equal([search.Chosen], trialRows.Select((r, i) => (r, i)).Where(p => Class(p.r).Split(' ').Contains("chosen")).Select(p => p.i));
    }

    [Fact]
    public void The_chart_has_one_point_per_trial_where_its_bytes_and_gate_put_it_and_marks_the_chosen_one()
    {
        SearchReport search = digits.Search;

        XElement chart = Assert.Single(SearchSection(Render(digits.ReportPath)).Descendants("svg"), s => Class(s).Split(' ').Contains("search-chart"));

        XElement[] points = [.. chart.Elements().Where(e => e.Attribute("data-trial") is not null)];
        Assert.Equal(Enumerable.Range(0, search.Trials.Count), points.Select(p => (int)p.Attribute("data-trial")!));
        XElement limit = chart.Elements("line").Single(l => Class(l) == "limit");
        double limitY = double.Parse((string)limit.Attribute("y1")!, CultureInfo.InvariantCulture);
        Assert.Equal(search.Budget[0].Limit, (double)limit.Attribute("data-value")!);
        foreach ((SearchTrial trial, XElement point) in search.Trials.Zip(points))
        {
            // Path trials are circles, uniform ones squares; passed and missed differ.
            Assert.Equal(trial.Kind == "uniform" ? "rect" : "circle", point.Name.LocalName);
            string[] classes = Class(point).Split(' ');
            Assert.Contains(trial.Kind, classes);
            Assert.Contains(trial.Passed ? "passed" : "missed", classes);
            Assert.Equal(trial.ZippedBytes, (long)point.Attribute("data-x")!);
            double measured = trial.Gates.Single(g => g.Gate == search.Budget[0].Gate).Measured;
            Assert.Equal(measured, (double)point.Attribute("data-y")!);
            // MaxAccuracyDrop: a trial above the dashed line dropped more than the budget allows.
            double y = CenterY(point);
            Assert.True(measured > search.Budget[0].Limit ? y < limitY : y > limitY, $"{trial.Label}: drop {measured} drawn at y={y}, the limit at y={limitY}");
        }

        // Larger models further right.
        var byBytes = search.Trials.Zip(points).OrderBy(p => p.First.ZippedBytes).Select(p => CenterX(p.Second)).ToList();
        Assert.Equal(byBytes.Order(), byBytes);

        // The chosen point is marked, and ringed where it is drawn.
        XElement marked = Assert.Single(points, p => Class(p).Split(' ').Contains("chosen"));
        Assert.Equal(search.Chosen, (int)marked.Attribute("data-trial")!);
        XElement ring = Assert.Single(chart.Elements("circle"), c => Class(c) == "chosen-ring");
        Assert.Equal((CenterX(marked), CenterY(marked)), (CenterX(ring), CenterY(ring)));

        // Axis names and a legend for each kind of mark.
        Assert.Equal(["deployed (zipped) bytes", "MaxAccuracyDrop (measured)"], chart.Elements("text").Where(t => Class(t).StartsWith("axis-label", StringComparison.Ordinal)).Select(t => t.Value));
        Assert.Equal(["path trial", "uniform trial", "missed the budget", "chosen", "budget limit"], chart.Element("g")!.Elements("text").Select(t => t.Value));
    }

    [Fact]
    public void The_page_with_a_search_is_self_contained_and_the_same_bytes_every_time()
    {
        string first = RenderToFile("first", digits.ReportPath);
        string second = RenderToFile("second", digits.ReportPath);

        HtmlReportTests.AssertSelfContained(File.ReadAllText(first));
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    [Fact]
    public void A_latency_search_charts_run_time_draws_uniform_trials_as_squares_and_escapes_node_names()
    {
        const string Hostile = "<script>alert(1)</script>&\"'";
        GateCheck Gate(double measured) => new(EvaluationSettings.MinCosineSimilarity.Name, 0.999, measured, measured >= 0.999);
        var search = new SearchReport(
            SearchSettings.Latency, [SearchSettings.QuantizeTechnique], [new SearchBudget(EvaluationSettings.MinCosineSimilarity.Name, 0.999, "project property OnnxMinCosineSimilarity")], 60,
            ["int8", "int4"],
            [new SearchLayerReport(Hostile, "MatMul", "w", [64, 64], "int8", [
                new SensitivityEntry("int8", 16_384, 4_160, 15_000, 4_000, 1e-6, true) { LatencyMs = 1.25 },
                new SensitivityEntry("int4", 16_384, 2_100, 15_000, 2_000, 0.01, false) { LatencyMs = 1.5 },
            ])],
            [
                new SearchTrial("path", "step 1 of 2", 0.01, -1, 3_000, 2_500, [Gate(0.99)], false) { LatencyMs = 1.5 },
                new SearchTrial("path", "step 2 of 2", 1e-6, -0.5, 5_000, 4_500, [Gate(0.9999)], true) { LatencyMs = 1.25 },
                new SearchTrial("uniform", "uniform int8", 1e-6, -0.5, 5_000, 4_500, [Gate(0.9995)], true) { LatencyMs = 1.3 },
            ],
            1,
            "{}\n")
        { BestUniform = 2 };
        string path = folder.File("latency.json");
        File.WriteAllText(path, (Report() with { Search = search }).ToJson());

        string html = File.ReadAllText(RenderToFile("latency", path));

        HtmlReportTests.AssertSelfContained(html);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        XElement section = SearchSection(HtmlReportTests.Parse(html));
        Assert.Equal(Hostile, (string)section.Descendants("tr").Single(tr => tr.Attribute("data-node") is not null).Attribute("data-node")!);
        XElement chart = section.Descendants("svg").Single();
        XElement[] points = [.. chart.Elements().Where(e => e.Attribute("data-trial") is not null)];
        Assert.Equal(["circle", "circle", "rect"], points.Select(p => p.Name.LocalName));
        Assert.Equal([1.5, 1.25, 1.3], points.Select(p => (double)p.Attribute("data-x")!));
        Assert.Equal("run time (ms, one thread)", chart.Elements("text").First(t => Class(t).StartsWith("axis-label", StringComparison.Ordinal)).Value);
        Assert.Equal(["passed, chosen", "passed, best uniform"], section.Descendants("table").Single(t => Class(t) == "search-trials").Elements("tr").Skip(2).Select(r => r.Elements("td").Last().Value));
        Assert.Contains("Run time (ms)", section.Descendants("th").Select(th => th.Value));
    }

    private static CompressionReport Report() =>
        new("m.onnx", "m.onnx", "onnx-compress test", [], new SizeReport(20_000, 5_000) { ZippedOriginal = 18_000, ZippedCompressed = 4_500 }, null,
            [new PassResult("weight-quantization")], new Dictionary<string, string>(), null, [], []);

    private string RenderToFile(string name, params string[] reports)
    {
        string output = folder.File(name, "report.html");
        HtmlReport.Write(output, reports);
        return output;
    }

    private XDocument Render(params string[] reports) => HtmlReportTests.Parse(File.ReadAllText(RenderToFile("page", reports)));

    private static XElement SearchSection(XDocument page) => page.Descendants("section").Single(s => Class(s) == "search");

    private static double CenterX(XElement mark) => mark.Name.LocalName == "rect"
        ? double.Parse((string)mark.Attribute("x")!, CultureInfo.InvariantCulture) + 5
        : double.Parse((string)mark.Attribute("cx")!, CultureInfo.InvariantCulture);

    private static double CenterY(XElement mark) => mark.Name.LocalName == "rect"
        ? double.Parse((string)mark.Attribute("y")!, CultureInfo.InvariantCulture) + 5
        : double.Parse((string)mark.Attribute("cy")!, CultureInfo.InvariantCulture);

    private static string Class(XElement element) => (string?)element.Attribute("class") ?? string.Empty;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
