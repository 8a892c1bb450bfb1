using Compression.Cli.Tests.Support;

namespace Compression.Cli.Tests;

/// <summary><c>onnx-compress --each ARGS.rsp...</c>: several compressions in one process, as the build runs them.</summary>
public sealed class EachCommandTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Each_compression_runs_in_turn_says_how_it_ended_and_a_failure_does_not_stop_the_next()
    {
        string broken = folder.File("broken.onnx");
        File.WriteAllText(broken, "not a model");
        string first = Arguments("first", RepositoryPaths.DigitsModel, "--quantize", "int8");
        string failing = Arguments("failing", broken);
        string last = Arguments("last", RepositoryPaths.DigitsModel, "--quantize", "int4");

        CommandResult result = CommandResult.InProcess("--each", first, failing, last);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string[] ends = result.StdoutLines.Where(l => l.StartsWith(EachCommand.ResultPrefix, StringComparison.Ordinal)).ToArray();
        Assert.Equal([$"{EachCommand.ResultPrefix}0: {first}", $"{EachCommand.ResultPrefix}1: {failing}", $"{EachCommand.ResultPrefix}0: {last}"], ends);
        Assert.Single(result.StderrLines, l => l.StartsWith("onnx-compress: error ", StringComparison.Ordinal) && l.Contains("OCB0002", StringComparison.Ordinal));
        // Each is the compression its own arguments ask for, the same bytes as a run of its own.
        CommandResult alone = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("alone.onnx"), "--no-validate", "--quantize", "int4");
        Assert.Equal(CompressCommand.Success, alone.ExitCode);
        Assert.Equal(File.ReadAllBytes(folder.File("alone.onnx")), File.ReadAllBytes(folder.File("last.onnx")));
        Assert.NotEqual(File.ReadAllBytes(folder.File("first.onnx")), File.ReadAllBytes(folder.File("last.onnx")));
        Assert.False(File.Exists(folder.File("failing.onnx")));
    }

    [Fact]
    public void The_HTML_page_is_written_after_the_compressions_when_all_succeeded_and_not_otherwise()
    {
        string first = Arguments("first", RepositoryPaths.DigitsModel);
        string second = Arguments("second", RepositoryPaths.DigitsModel, "--quantize", "fp16");
        string page = folder.File("report.html");

        CommandResult result = CommandResult.InProcess("--each", first, second, "--html-report", page,
            "--html-input", folder.File("first.report.json"), "--html-input", folder.File("second.report.json"));

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        string html = File.ReadAllText(page);
        Assert.Equal(2, html.Split("<section class=\"model\"").Length - 1);
        Assert.Equal($"Compression report: {page}", result.StdoutLines[^1]);

        File.Delete(page);
        string missing = Arguments("missing", folder.File("no such model.onnx"));
        CommandResult failed = CommandResult.InProcess("--each", first, missing, "--html-report", page, "--html-input", folder.File("first.report.json"));

        Assert.Equal(CompressCommand.Failed, failed.ExitCode);
        Assert.False(File.Exists(page));
    }

    [Fact]
    public void A_missing_response_file_is_a_usage_error_for_that_compression_only()
    {
        string missing = folder.File("missing.rsp");
        string first = Arguments("first", RepositoryPaths.DigitsModel);

        CommandResult result = CommandResult.InProcess("--each", missing, first);

        Assert.Equal(CompressCommand.UsageError, result.ExitCode);
        Assert.Contains($"'{missing}' given to --each does not exist", result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{EachCommand.ResultPrefix}0: {first}", result.StdoutLines);
        Assert.True(File.Exists(folder.File("first.onnx")));
    }

    [Fact]
    public void Without_response_files_the_command_line_is_wrong()
    {
        CommandResult result = CommandResult.InProcess("--each");

        Assert.Equal(CompressCommand.UsageError, result.ExitCode);
        Assert.StartsWith("onnx-compress: error: ", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A response file <c>NAME.rsp</c> that compresses <paramref name="model"/> to <c>NAME.onnx</c> with a report, without validation.</summary>
    private string Arguments(string name, string model, params string[] options) =>
        ResponseFile.Write(folder.File(name + ".rsp"), [model, "-o", folder.File(name + ".onnx"), "-r", folder.File(name + ".report.json"), "--no-validate", .. options]);
}
