using Compression.Cli.Tests.Support;
using Compression.Core;

namespace Compression.Cli.Tests;

/// <summary>Failures: one error line on stderr with its code, exit code 1 (2 for a wrong command line), no files.</summary>
public sealed class FailureTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_file_that_is_not_an_ONNX_model_gives_one_OCB0002_line_and_exit_code_1()
    {
        string input = folder.File("notes.onnx");
        File.WriteAllText(input, "these are notes, not a model\n");

        CommandResult result = CommandResult.InProcess(input, "-o", folder.File("out.onnx"), "-r", folder.File("report.json"));

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidModel}: ", line, StringComparison.Ordinal);
        Assert.Contains(input, line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Equal(["notes.onnx"], folder.ListFiles());
    }

    [Fact]
    public void A_model_with_an_initializer_of_element_type_minus_1_gives_one_OCB0002_line_before_ONNX_Runtime_sees_it()
    {
        // ONNX Runtime crashes the process on such an initializer; validation is on, so the check at load must stop it first.
        var model = Compression.Onnx.OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        model.Graph.Initializer.Single(t => t.Name == "fc2.weight").DataType = -1;
        string input = folder.File("broken.onnx");
        Compression.Onnx.OnnxModelFile.Save(model, input);

        CommandResult result = CommandResult.InProcess(input, "-o", folder.File("out.onnx"), "-r", folder.File("report.json"));

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidModel}: '{input}' is not a valid ONNX model: Tensor 'fc2.weight'", line, StringComparison.Ordinal);
        Assert.Contains("element type -1, which is no ONNX element type", line, StringComparison.Ordinal);
        Assert.Equal(["broken.onnx"], folder.ListFiles());
    }

    [Theory]
    [InlineData("-o")]
    [InlineData("-r")]
    [InlineData("--signature")]
    public void An_output_over_the_model_itself_gives_OCB0004_and_leaves_the_original_as_it_was(string option)
    {
        string input = folder.File("digits.onnx");
        File.Copy(RepositoryPaths.DigitsModel, input);
        string[] args = option == "-o" ? [input, "-o", input] : [input, "-o", folder.File("out.onnx"), option, input];

        CommandResult result = CommandResult.InProcess(args);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OutputNotWritten}: ", line, StringComparison.Ordinal);
        Assert.Contains("is the model itself", line, StringComparison.Ordinal);
        Assert.Equal(["digits.onnx"], folder.ListFiles());
        Assert.Equal(File.ReadAllBytes(RepositoryPaths.DigitsModel), File.ReadAllBytes(input));
    }

    [Fact]
    public void A_missing_model_gives_OCB0001()
    {
        CommandResult result = CommandResult.InProcess(folder.File("missing.onnx"), "-o", folder.File("out.onnx"));

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.ModelNotFound}: ", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void An_unknown_quantization_gives_OCB0003()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "-q", "int3");

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidSetting}: Quantize='int3'", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void A_weight_threshold_that_is_not_a_number_gives_OCB0003()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "--weight-threshold", "-5");

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidSetting}: WeightThreshold='-5'", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void A_validation_data_folder_without_the_models_input_gives_OCB0103()
    {
        Directory.CreateDirectory(folder.File("data"));

        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "--validation-data", folder.File("data"));

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidValidationData}: ", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void An_onnxruntime_library_that_does_not_exist_gives_OCB0100()
    {
        string library = folder.File("no-such", "libonnxruntime.so");

        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "--onnxruntime", library);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", line, StringComparison.Ordinal);
        Assert.Contains(library, line, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Theory]
    [InlineData("--output")]
    [InlineData("--bogus")]
    [InlineData("argument")]
    public void A_wrong_command_line_gives_one_usage_error_line_and_exit_code_2(string problem)
    {
        string[] args = problem switch
        {
            "--output" => [RepositoryPaths.DigitsModel],
            "--bogus" => [RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "--bogus"],
            _ => ["-o", folder.File("out.onnx")], // no model: System.CommandLine says "Required argument missing"
        };

        CommandResult result = CommandResult.InProcess(args);

        Assert.Equal(CompressCommand.UsageError, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith("onnx-compress: error: ", line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
        Assert.EndsWith("Run 'onnx-compress --help' for usage.", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Empty(folder.ListFiles());
    }
}
