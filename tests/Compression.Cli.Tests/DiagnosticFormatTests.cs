using System.Text.RegularExpressions;
using Compression.Cli.Tests.Support;
using Compression.Core;

namespace Compression.Cli.Tests;

/// <summary>
/// <c>--diagnostic-format msbuild</c> writes MSBuild's canonical error format (<c>origin : error CODE: text</c>),
/// which MSBuild's Exec task turns into build errors and warnings; <c>--no-validate</c> warns OCB0200.
/// </summary>
public sealed partial class DiagnosticFormatTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void An_error_in_msbuild_format_names_the_model_path_and_parses_as_an_MSBuild_error()
    {
        string model = folder.File("missing.onnx");

        CommandResult result = CommandResult.InProcess(model, "-o", folder.File("out.onnx"), "--diagnostic-format", "msbuild");

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"{model} : error {DiagnosticCodes.ModelNotFound}: ", line, StringComparison.Ordinal);
        Match canonical = CanonicalError().Match(line);
        Assert.True(canonical.Success, line);
        Assert.Equal((model, "error", DiagnosticCodes.ModelNotFound), (canonical.Groups["origin"].Value, canonical.Groups["category"].Value, canonical.Groups["code"].Value));
    }

    [Fact]
    public void A_warning_in_msbuild_format_parses_as_an_MSBuild_warning()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "--no-validate", "--diagnostic-format", "MSBuild");

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        string warning = Assert.Single(result.StdoutLines, l => l.Contains(" : warning ", StringComparison.Ordinal));
        Match canonical = CanonicalError().Match(warning);
        Assert.True(canonical.Success, warning);
        Assert.Equal((RepositoryPaths.DigitsModel, "warning", DiagnosticCodes.ValidationDisabled), (canonical.Groups["origin"].Value, canonical.Groups["category"].Value, canonical.Groups["code"].Value));
    }

    [Fact]
    public void No_validate_prints_the_OCB0200_warning_and_no_validation_line()
    {
        CommandResult result = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("out.onnx"), "--no-validate");

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.Equal(string.Empty, result.Stderr);
        Assert.Single(result.StdoutLines, l => l.StartsWith($"onnx-compress: warning {DiagnosticCodes.ValidationDisabled}: ", StringComparison.Ordinal));
        Assert.DoesNotContain(result.StdoutLines, l => l.Contains("validated in ONNX Runtime", StringComparison.Ordinal));
        Assert.True(File.Exists(folder.File("out.onnx")));
    }

    /// <summary>The part of MSBuild's canonical error format (CanonicalError.cs) that an origin without line numbers uses.</summary>
    [GeneratedRegex(@"^(?<origin>[^:].*?) : (?<category>error|warning) (?<code>[A-Za-z]+[0-9]+): (?<text>.*)$")]
    private static partial Regex CanonicalError();
}
