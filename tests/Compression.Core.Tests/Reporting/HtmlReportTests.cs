using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Compression.Core.Evaluation;
using Compression.Core.Passes;
using Compression.Core.Reporting;
using Compression.Core.Settings;
using Compression.Core.Tests.EndToEnd;

namespace Compression.Core.Tests.Reporting;

/// <summary>
/// The HTML page a build writes from its models' JSON reports: one section per model, bars whose widths follow the bytes,
/// nothing that loads from elsewhere or runs, and every name from a model escaped. The page is read back as XML (it is
/// well-formed by design) to look at what a browser draws.
/// </summary>
public sealed class HtmlReportTests : IClassFixture<CompressedDigits>, IDisposable
{
    private const string Hostile = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;\u0001";

    private readonly CompressedDigits digits;
    private readonly TemporaryFolder folder = new();

    public HtmlReportTests(CompressedDigits digits) => this.digits = digits;

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Every_model_has_one_section_in_the_order_given_with_its_summary_and_charts()
    {
        string first = WriteReport("first.json", Report("Models/first.onnx", Change("a", 4000, 1100), Change("b", 1000, 280)));
        string second = WriteReport("second.json", Report("Models/second.onnx", Change("c", 64_000, 8_500)));

        XDocument page = Render(first, second);

        XElement[] sections = [.. Elements(page, "section").Where(s => Class(s) == "model")];
        Assert.Equal(["Models/first.onnx", "Models/second.onnx"], sections.Select(s => (string)s.Attribute("data-source")!));
        Assert.Equal(["Models/first.onnx", "Models/second.onnx"], sections.Select(s => s.Element("h2")!.Value));
        Assert.Contains("5,000 -> 1,380 bytes (0.276x)", sections[0].Element("table")!.Value, StringComparison.Ordinal);
        Assert.Contains("1,234 ms (read 10 ms, compress 1,000 ms)", sections[0].Element("table")!.Value, StringComparison.Ordinal);
        Assert.All(sections, s => Assert.Single(Charts(s, "size-chart")));
        Assert.All(sections, s => Assert.Single(Charts(s, "bits-chart")));
    }

    [Fact]
    public void Each_tensor_has_bars_before_and_after_as_wide_as_its_bytes_on_its_models_scale()
    {
        string report = WriteReport("model.json", Report("model.onnx", Change("large", 40_000, 10_600), Change("small", 4_000, 1_300)) with
        {
            Passes = [new PassResult("weight-quantization")
            {
                Changed = [Change("large", 40_000, 10_600), Change("small", 4_000, 1_300)],
                LeftAlone = [new TensorLeftAlone("bias", "Add", "1000 elements, below the weight threshold of 1024") { Bytes = 4_000, Shape = [1000] }],
            }],
        });

        XElement chart = Assert.Single(Charts(Elements(Render(report), "section").Single(), "size-chart"));

        var rows = chart.Elements("g").ToDictionary(g => (string)g.Attribute("data-tensor")!);
        Assert.Equal(["large", "small", "bias"], rows.Keys);
        var expected = new Dictionary<string, (long Before, long After)> { ["large"] = (40_000, 10_600), ["small"] = (4_000, 1_300), ["bias"] = (4_000, 4_000) };
        foreach ((string name, (long before, long after)) in expected)
        {
            XElement[] bars = [.. rows[name].Elements("rect")];
            Assert.Equal(HtmlReport.SizeBarWidth * before / 40_000, Width(bars.Single(b => Class(b) == "bar before")), precision: 2);
            Assert.Equal(HtmlReport.SizeBarWidth * after / 40_000, Width(bars.Single(b => Class(b).StartsWith("bar after", StringComparison.Ordinal))), precision: 2);
        }

        // Bits per weight: 10,600 bytes for 10,000 floats is 8.48 bits, of 32.
        XElement bits = Charts(Elements(Render(report), "section").Single(), "bits-chart").Single();
        XElement large = bits.Elements("g").Single(g => (string)g.Attribute("data-tensor")! == "large");
        Assert.Equal(HtmlReport.BitsBarWidth * 8.48 / 32, Width(large.Elements("rect").Single(r => Class(r) == "bar bits")), precision: 2);
        Assert.Equal(0, Width(large.Elements("rect").Single(r => Class(r) == "bar sparsity")));
        Assert.Contains(large.Elements("text"), t => t.Value == "0%");
    }

    [Fact]
    public void Names_from_the_model_are_text_never_markup()
    {
        string report = WriteReport("hostile.json", Report(Hostile, Change(Hostile, 4000, 1100)) with { Warnings = [Hostile], Notes = [Hostile] });

        string html = File.ReadAllText(RenderToFile(report));
        XDocument page = Parse(html);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Elements(page, "script"));
        Assert.Empty(Elements(page, "img"));
        string shown = Hostile.Replace('\u0001', '\ufffd');
        Assert.Equal(shown, Elements(page, "h2").Single().Value);
        Assert.Equal(shown, (string)Elements(page, "section").Single().Attribute("data-source")!);
        Assert.Contains(Elements(page, "td"), td => td.Value == shown);
        Assert.Contains(Elements(page, "g"), g => (string?)g.Attribute("data-tensor") == shown);
    }

    [Fact]
    public void The_page_loads_nothing_from_elsewhere_and_runs_no_script()
    {
        string html = File.ReadAllText(RenderToFile(digits.ReportPath, WriteReport("other.json", Report("other.onnx", Change("w", 4000, 1100)))));
        AssertSelfContained(html);
    }

    [Fact]
    public void A_real_report_shows_every_tensor_the_passes_looked_at()
    {
        CompressionReport report = digits.Outcome.Report;

        XElement section = Elements(Render(digits.ReportPath), "section").Single();

        // The summary gives the deployed (zipped) sizes beside the raw ones.
        XElement zipped = section.Descendants("tr").Single(tr => tr.Elements("th").FirstOrDefault()?.Value == "Zipped");
        Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"{report.Size.ZippedOriginal:N0} -> {report.Size.ZippedCompressed:N0} bytes"), zipped.Elements("td").Single().Value, StringComparison.Ordinal);

        XElement tensors = section.Descendants("table").Single(t => Class(t) == "tensors");
        Assert.Equal(report.Changed.Select(c => c.Name).Concat(report.LeftAlone.Select(l => l.Name)),
            tensors.Elements("tr").Skip(1).Select(tr => tr.Elements("td").First().Value));
        XElement chart = Charts(section, "size-chart").Single();
        Assert.Equal(report.Changed.Select(c => c.Name).Concat(report.LeftAlone.Where(l => l.Bytes is not null).Select(l => l.Name)),
            chart.Elements("g").Select(g => (string)g.Attribute("data-tensor")!));
        Assert.All(chart.Descendants("rect").Where(r => Class(r).StartsWith("bar", StringComparison.Ordinal)), r => Assert.True(Width(r) > 0, $"A bar of {r.Parent!.Attribute("data-tensor")} is empty."));
        ValidationResult validation = report.Validation!;
        XElement errors = section.Descendants("table").Single(t => Class(t) == "errors");
        Assert.Equal(validation.Outputs.Select(o => o.Name), errors.Elements("tr").Skip(1).Select(tr => tr.Elements("td").First().Value));
        Assert.Equal(validation.Outputs.Select(o => o.MaxAbsError.ToString("G4", CultureInfo.InvariantCulture)), errors.Elements("tr").Skip(1).Select(tr => tr.Elements("td").ElementAt(1).Value));
    }

    [Theory]
    [InlineData("not json {", "is not valid JSON")]
    [InlineData("[1, 2]", "the report is an array, expected an object")]
    [InlineData("""{ "source": "m.onnx", "passes": [] }""", "it has no 'size' (an object)")]
    [InlineData("""{ "source": "m.onnx", "size": { "original": "big", "compressed": 1 }, "passes": [] }""", "'original' is a string, expected a number")]
    [InlineData("""{ "source": "m.onnx", "size": { "original": 10, "compressed": 1 }, "passes": [{ "changed": [{ "name": "w" }] }] }""", "it has no 'bytesBefore' (a number)")]
    public void A_malformed_report_is_OCB0010_naming_the_file_and_nothing_is_written(string content, string problem)
    {
        string good = WriteReport("good.json", Report("m.onnx", Change("w", 4000, 1100)));
        string bad = folder.File("bad.json");
        File.WriteAllText(bad, content);
        string output = folder.File("out", "report.html");

        CompressionException error = Assert.Throws<CompressionException>(() => HtmlReport.Write(output, [good, bad]));

        Assert.Equal(DiagnosticCodes.InvalidReport, error.Code);
        Assert.Equal(bad, error.ModelPath);
        Assert.Contains($"'{bad}' is not a compression report", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(Directory.Exists(folder.File("out")) && Directory.EnumerateFileSystemEntries(folder.File("out")).Any());
    }

    [Fact]
    public void A_missing_report_is_OCB0010()
    {
        CompressionException error = Assert.Throws<CompressionException>(() => HtmlReport.Write(folder.File("report.html"), [folder.File("absent.json")]));
        Assert.Equal(DiagnosticCodes.InvalidReport, error.Code);
        Assert.Contains("cannot be read", error.Message, StringComparison.Ordinal);
    }

    /// <summary>No element that loads or runs anything, no attribute that points anywhere, no CSS that fetches.</summary>
    internal static void AssertSelfContained(string html)
    {
        XDocument page = Parse(html);
        string[] loading = ["script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignObject", "audio", "video", "source", "base", "form"];
        Assert.DoesNotContain(page.Descendants(), e => loading.Contains(e.Name.LocalName));
        Assert.DoesNotContain(page.Descendants().Attributes(), a => a.Name.LocalName is "src" or "href" or "srcset" or "action" or "style" || a.Name.LocalName.StartsWith("on", StringComparison.Ordinal));
        string style = string.Concat(page.Descendants("style").Select(s => s.Value));
        Assert.DoesNotContain("url(", style, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", style, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@font-face", style, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("//", style, StringComparison.Ordinal);
    }

    internal static XDocument Parse(string html)
    {
        using var reader = XmlReader.Create(new StringReader(html), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }

    private static CompressionReport Report(string source, params TensorChange[] changed) =>
        new(source, Path.GetFileName(source), "onnx-compress test", [new ResolvedSettingReport("Quantize", "int8", "default")],
            new SizeReport(changed.Sum(c => c.BytesBefore), changed.Sum(c => c.BytesAfter)), null,
            [new PassResult("weight-quantization") { Techniques = ["8-bit test"], Changed = changed }],
            new Dictionary<string, string>(), null, [], [])
        {
            Timing = new ReportTiming(1234, [new PhaseTiming("read", 10), new PhaseTiming("compress", 1000)]),
        };

    private static TensorChange Change(string name, long before, long after) =>
        new(name, "int8 per channel", ["MatMul"], [before / 4 / 10, 10], before, after, 0.01);

    private string WriteReport(string name, CompressionReport report)
    {
        string path = folder.File(name);
        File.WriteAllText(path, report.ToJson());
        return path;
    }

    private string RenderToFile(params string[] reports)
    {
        string output = folder.File("obj", "onnx", "report.html");
        HtmlReport.Write(output, reports);
        return output;
    }

    private XDocument Render(params string[] reports) => Parse(File.ReadAllText(RenderToFile(reports)));

    private static IEnumerable<XElement> Elements(XDocument page, string name) => page.Descendants(name);

    private static IEnumerable<XElement> Charts(XElement section, string kind) =>
        section.Descendants("svg").Where(s => Class(s).Split(' ').Contains(kind));

    private static string Class(XElement element) => (string?)element.Attribute("class") ?? string.Empty;

    private static double Width(XElement rect) => double.Parse((string)rect.Attribute("width")!, CultureInfo.InvariantCulture);
}
