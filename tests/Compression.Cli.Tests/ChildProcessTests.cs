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
        // Beside the tests the tool finds ONNX Runtime in the NuGet packages folder the tests restored.
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
    public void Without_ONNX_Runtime_the_tool_compresses_with_no_validate_and_otherwise_fails_with_OCB0100_naming_what_it_tried()
    {
        string tool = CopyTool();

        CommandResult unvalidated = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "a.onnx"), "--no-validate"], tool, EmptyPackages());
        CommandResult validated = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "b.onnx")], tool, EmptyPackages());

        Assert.True(unvalidated.ExitCode == CompressCommand.Success, unvalidated.Stderr);
        Assert.Single(unvalidated.StdoutLines, l => l.StartsWith($"onnx-compress: warning {DiagnosticCodes.ValidationDisabled}: ", StringComparison.Ordinal));
        Assert.Equal(CompressCommand.Failed, validated.ExitCode);
        string line = Assert.Single(validated.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", line, StringComparison.Ordinal);
        Assert.Contains("native asset 'onnxruntime'", line, StringComparison.Ordinal);
        Assert.Contains("ONNXRUNTIME_LIBRARY_PATH: not set", line, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime 1.30.0 or newer in the NuGet packages folder", line, StringComparison.Ordinal);
        Assert.Contains("To fix", line, StringComparison.Ordinal);
        Assert.Equal(["out/a.onnx", "out/a.onnx.signature"], folder.ListFiles().Where(f => f.StartsWith("out", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_tool_finds_ONNX_Runtime_in_the_NuGet_packages_folder()
    {
        CommandResult result = CommandResult.ChildProcess(
            [RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "-r", folder.File("out", "report.json")], CopyTool(), CopiedPackage("1.31.1"));

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("  validated in ONNX Runtime 1.31.1 ", StringComparison.Ordinal));
    }

    [Fact]
    public void The_onnxruntime_option_lets_a_tool_without_ONNX_Runtime_validate()
    {
        CommandResult result = CommandResult.ChildProcess(
            [RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "-r", folder.File("out", "report.json"), "--onnxruntime", AssemblyMetadata.OnnxRuntimeLibraryPath],
            CopyTool(), EmptyPackages());

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("  validated in ONNX Runtime 1.31.1 ", StringComparison.Ordinal));
    }

    [Fact]
    public void The_variable_pointing_at_the_library_lets_the_tool_validate()
    {
        var environment = EmptyPackages();
        environment["ONNXRUNTIME_LIBRARY_PATH"] = AssemblyMetadata.OnnxRuntimeLibraryPath;

        CommandResult result = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx")], CopyTool(), environment);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("  validated in ONNX Runtime 1.31.1 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("text")]
    [InlineData("other-library")]
    public void The_variable_pointing_at_no_usable_library_gives_one_OCB0100_line_saying_why(string kind)
    {
        string library = Library(kind);
        var environment = EmptyPackages();
        environment["ONNXRUNTIME_LIBRARY_PATH"] = library;

        CommandResult result = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx")], CopyTool(), environment);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", line, StringComparison.Ordinal);
        Assert.Contains(library, line, StringComparison.Ordinal);
        Assert.Contains(kind switch { "missing" => "no such file", "text" => "could not be loaded", _ => "does not export OrtGetApiBase" }, line, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("out", "digits.onnx")));
    }

    [Fact]
    public void An_onnxruntime_option_naming_a_file_that_is_not_a_library_fails_without_falling_back_to_other_places()
    {
        // .NET's message for a library that fails to load spans lines; the diagnostic must still be one line.
        string library = Library("text");
        var environment = new Dictionary<string, string?> { ["ONNXRUNTIME_LIBRARY_PATH"] = AssemblyMetadata.OnnxRuntimeLibraryPath };

        CommandResult result = CommandResult.ChildProcess([RepositoryPaths.DigitsModel, "-o", folder.File("out", "digits.onnx"), "--onnxruntime", library], environment: environment);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", line, StringComparison.Ordinal);
        Assert.Contains(library, line, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("out", "digits.onnx")));
    }

    /// <summary>A library path of the given kind: a missing file, a text file, or a shared library that is not ONNX Runtime.</summary>
    private string Library(string kind)
    {
        string path = folder.File("libs", kind, "libonnxruntime.so");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        switch (kind)
        {
            case "text":
                File.WriteAllText(path, "not a shared library");
                break;
            case "other-library":
                File.Copy(OtherSharedLibrary(), path);
                break;
        }

        return path;
    }

    private static string OtherSharedLibrary() =>
        new[] { "/lib/x86_64-linux-gnu/libz.so.1", "/lib/aarch64-linux-gnu/libz.so.1", "/usr/lib/libz.so.1" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("No libz.so.1 to stand in for a shared library that is not ONNX Runtime.");

    /// <summary>An empty NuGet packages folder, so the tool cannot fall back on the packages the tests restored.</summary>
    private Dictionary<string, string?> EmptyPackages()
    {
        string packages = folder.File("empty-packages");
        Directory.CreateDirectory(packages);
        return new Dictionary<string, string?> { ["NUGET_PACKAGES"] = packages };
    }

    /// <summary>A NuGet packages folder holding only Microsoft.ML.OnnxRuntime's native library for this machine, at <paramref name="version"/>.</summary>
    private Dictionary<string, string?> CopiedPackage(string version)
    {
        string packages = folder.File("packages");
        string native = Path.Combine(packages, "microsoft.ml.onnxruntime", version, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(native);
        File.Copy(AssemblyMetadata.OnnxRuntimeLibraryPath, Path.Combine(native, "libonnxruntime.so"));
        Directory.CreateDirectory(Path.Combine(packages, "microsoft.ml.onnxruntime", "1.0.0", "runtimes", "linux-x64", "native"));
        return new Dictionary<string, string?> { ["NUGET_PACKAGES"] = packages };
    }

    /// <summary>Copies the tool as the packages ship it (its assemblies and their deps.json, no native library) into a folder of its own.</summary>
    private string CopyTool()
    {
        string tool = folder.File("tool");
        if (!Directory.Exists(tool))
        {
            Directory.CreateDirectory(tool);
            foreach (string file in Directory.GetFiles(AppContext.BaseDirectory))
            {
                string name = Path.GetFileName(file);
                // onnx-compress.* and the worker, onnx-compress-worker.*.
                if (name.StartsWith("onnx-compress", StringComparison.Ordinal) || name.EndsWith(".dll", StringComparison.Ordinal))
                {
                    File.Copy(file, Path.Combine(tool, name));
                }
            }
        }

        Assert.Empty(Directory.GetFiles(tool, "*onnxruntime.so*", SearchOption.AllDirectories));
        return Path.Combine(tool, "onnx-compress.dll");
    }
}
