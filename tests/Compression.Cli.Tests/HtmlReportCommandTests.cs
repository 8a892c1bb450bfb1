using Compression.Cli.Tests.Support;

namespace Compression.Cli.Tests;

/// <summary><c>onnx-compress --html-report OUT REPORT.json...</c>: the page from the reports of earlier runs.</summary>
public sealed class HtmlReportCommandTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_page_is_written_from_the_reports_of_two_compressions_and_its_path_printed()
    {
        string int8 = Compress("int8");
        string int4 = Compress("int4");
        string page = folder.File("html", "report.html");

        CommandResult result = CommandResult.InProcess("--html-report", page, int8, int4);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Equal(string.Empty, result.Stderr);
        Assert.Equal([$"Compression report: {page}"], result.StdoutLines);
        string html = File.ReadAllText(page);
        Assert.Equal(2, html.Split("<section class=\"model\"").Length - 1);
        Assert.Contains("8-bit, folded to float at load", html, StringComparison.Ordinal);
        Assert.Contains("4-bit", html, StringComparison.Ordinal);
        Assert.Equal(["html/report.html", "int4.onnx", "int4.onnx.signature", "int4.report.json", "int8.onnx", "int8.onnx.signature", "int8.report.json"], folder.ListFiles());
    }

    [Fact]
    public void A_malformed_report_is_error_OCB0010_with_exit_code_1_and_no_page()
    {
        string report = folder.File("broken.report.json");
        File.WriteAllText(report, "{ \"source\": ");
        string page = folder.File("report.html");

        CommandResult result = CommandResult.InProcess("--html-report", page, report);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error OCB0010: '{report}' is not a compression report as onnx-compress writes it (--report): it is not valid JSON", line, StringComparison.Ordinal);
        Assert.False(File.Exists(page));
    }

    [Fact]
    public void Without_reports_the_command_line_is_wrong()
    {
        CommandResult result = CommandResult.InProcess("--html-report", folder.File("report.html"));

        Assert.Equal(CompressCommand.UsageError, result.ExitCode);
        Assert.StartsWith("onnx-compress: error: ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    private string Compress(string quantize)
    {
        string report = folder.File(quantize + ".report.json");
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File(quantize + ".onnx"), "-r", report, "--no-validate", "--quantize", quantize);
        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        return report;
    }
}
