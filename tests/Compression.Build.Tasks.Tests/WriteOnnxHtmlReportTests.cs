namespace Compression.Build.Tasks.Tests;

/// <summary>The HTML report task in real MSBuild, running the compressor built from this repository.</summary>
public sealed class WriteOnnxHtmlReportTests : IDisposable
{
    private readonly TaskProject project = new();

    public void Dispose() => project.Dispose();

    [Fact]
    public void Writes_one_page_with_a_section_per_report_in_a_child_process()
    {
        string first = Compress("first model.onnx");
        string second = Compress("second.onnx");
        string page = Path.Combine(project.Directory, "obj dir", "report.html");

        (int exitCode, string log) = project.Run(Parameters(page, first, second), task: "WriteOnnxHtmlReport");

        Assert.True(exitCode == 0, log);
        string html = File.ReadAllText(page);
        Assert.Equal(2, html.Split("<section class=\"model\"").Length - 1);
        Assert.True(html.IndexOf("first model.onnx", StringComparison.Ordinal) < html.IndexOf("second.onnx", StringComparison.Ordinal), "The sections are not in the order of the reports.");
        // The build prints the path itself, once; the tool says nothing in MSBuild's format.
        Assert.DoesNotContain("Compression report:", log);
    }

    [Fact]
    public void A_malformed_report_becomes_an_MSBuild_error_with_its_code_and_path_and_no_page()
    {
        string good = Compress("digits.onnx");
        string bad = Path.Combine(project.Directory, "bad.report.json");
        File.WriteAllText(bad, """{ "source": "bad.onnx" }""");
        string page = Path.Combine(project.Directory, "obj", "report.html");

        (int exitCode, string log) = project.Run(Parameters(page, good, bad), task: "WriteOnnxHtmlReport");

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"{bad} : error OCB0010: '{bad}' is not a compression report", log);
        Assert.DoesNotContain("OCB2002", log);
        Assert.False(File.Exists(page));
    }

    /// <summary>Compresses the digits model under <paramref name="name"/> (validation off) and returns its report's path.</summary>
    private string Compress(string name)
    {
        // The report names the model by its item spec: a copy named as asked.
        string model = Path.Combine(project.Directory, "models", name);
        Directory.CreateDirectory(Path.GetDirectoryName(model)!);
        File.Copy(RepositoryPaths.DigitsModel, model);
        string output = Path.Combine(project.Directory, "obj dir", name);
        (int exitCode, string log) = project.Run(
            new Dictionary<string, string> { ["CompressorPath"] = TaskProject.CompressorPath, ["ProjectSettings"] = "Validate=false" },
            models: [new Dictionary<string, string>
            {
                ["Include"] = model,
                ["CompressedPath"] = output,
                ["SignaturePath"] = output + ".signature",
                ["ReportPath"] = output + ".report.json",
            }]);
        Assert.True(exitCode == 0, log);
        return output + ".report.json";
    }

    private static Dictionary<string, string> Parameters(string page, params string[] reports) => new()
    {
        ["Reports"] = string.Join(";", reports),
        ["OutputPath"] = page,
        ["CompressorPath"] = TaskProject.CompressorPath,
    };
}
