using Compression.Cli.Tests.Support;
using Compression.Core;

namespace Compression.Cli.Tests;

/// <summary>The built tool as users run it: <c>dotnet onnx-compress.dll</c> in a process of its own.</summary>
public sealed class ChildProcessTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_tool_compresses_the_digits_model_and_prints_the_summary()
    {
        string output = folder.File("out", "digits.onnx");
        string report = folder.File("out", "digits.report.json");

        CommandResult result = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", output, "-r", report]);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Equal(string.Empty, result.Stderr);
        Assert.Equal(["out/digits.onnx", "out/digits.onnx.signature", "out/digits.report.json"], folder.ListFiles());
        SuccessTests.AssertSummaryMatches(result.StdoutLines, RepositoryPaths.DigitsModel, output, report);
    }

    [Fact]
    public void The_tool_reports_a_bad_model_on_one_stderr_line_with_exit_code_1()
    {
        string input = folder.File("bad.onnx");
        File.WriteAllBytes(input, [0xFF, 0xFF, 0xFF, 0xFF]);

        CommandResult result = CommandResult.ChildProcess([input, "-o", folder.File("out.onnx")]);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidModel}: ", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.Equal(["bad.onnx"], folder.ListFiles());
    }

    [Fact]
    public void The_tool_prints_help_and_exits_0()
    {
        CommandResult result = CommandResult.ChildProcess(["--help"]);

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.Contains("--output", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stderr);
    }

    [Fact]
    public void Without_ONNX_Runtime_the_tool_compresses_with_no_validate_and_otherwise_fails_with_OCB0100()
    {
        string tool = CopyToolWithoutOnnxRuntime();

        CommandResult unvalidated = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "a.onnx"), "--no-validate"], tool);
        CommandResult validated = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "b.onnx")], tool);

        Assert.True(unvalidated.ExitCode == CompressCommand.Success, unvalidated.Stderr);
        Assert.Single(unvalidated.StdoutLines, l => l.StartsWith($"onnx-compress: warning {DiagnosticCodes.ValidationDisabled}: ", StringComparison.Ordinal));
        Assert.Equal(CompressCommand.Failed, validated.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", Assert.Single(validated.StderrLines), StringComparison.Ordinal);
        Assert.Equal(["out/a.onnx", "out/a.onnx.signature"], folder.ListFiles().Where(f => f.StartsWith("out", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_onnxruntime_option_lets_a_tool_without_ONNX_Runtime_validate()
    {
        string tool = CopyToolWithoutOnnxRuntime();

        CommandResult result = CommandResult.ChildProcess(
            [RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "-r", folder.File("out", "report.json"), "--onnxruntime", AssemblyMetadata.OnnxRuntimeLibraryPath], tool);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("  validated in ONNX Runtime ", StringComparison.Ordinal));
    }

    [Fact]
    public void An_onnxruntime_option_naming_a_file_that_is_not_a_library_gives_one_OCB0100_line()
    {
        // .NET's message for a library that fails to load spans lines; the diagnostic must still be one line.
        string library = folder.File("libonnxruntime.so");
        File.WriteAllText(library, "not a shared library");

        CommandResult result = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "--onnxruntime", library]);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", line, StringComparison.Ordinal);
        Assert.Contains(library, line, StringComparison.Ordinal);
        Assert.Equal(["libonnxruntime.so"], folder.ListFiles());
    }

    /// <summary>Copies the tool's files, all but ONNX Runtime's native library, into a folder of their own.</summary>
    private string CopyToolWithoutOnnxRuntime()
    {
        string tool = folder.File("tool");
        Directory.CreateDirectory(tool);
        foreach (string file in Directory.GetFiles(AppContext.BaseDirectory))
        {
            string name = Path.GetFileName(file);
            bool isToolFile = name.StartsWith("onnx-compress.", StringComparison.Ordinal)
                || (name.EndsWith(".dll", StringComparison.Ordinal) && !name.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase));
            if (isToolFile)
            {
                File.Copy(file, Path.Combine(tool, name));
            }
        }

        Assert.False(File.Exists(Path.Combine(tool, "libonnxruntime.so")));
        return Path.Combine(tool, "onnx-compress.dll");
    }
}
